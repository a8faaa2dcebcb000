/* Export of a time range (GET /api/export): the server checks the range first (check=1), so a
 * refusal is shown here; then the browser downloads the file the server makes as it sends it.
 */
"use strict";

(() => {
  const { $, fetchWithin, t, camName, fmtDateTime } = window.SHT;
  const form = $("export-form");
  if (!form) return;

  /* The range is typed in the page's one date-time form (the one on the picture), in the
   * cameras' time zone; the API takes it with a "T" between date and time. */
  const local = (epochS) => fmtDateTime(epochS);
  const asked = (input) => input.value.trim().replace(" ", "T");
  const now = Date.now() / 1000;
  $("export-to").value = local(now);
  $("export-from").value = local(now - 10 * 60);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams({ camera: $("export-camera").value, from: asked($("export-from")), to: asked($("export-to")) });
    const info = $("export-info");
    info.textContent = t("export.checking");
    try {
      const r = await fetchWithin(`/api/export?${q}&check=1`, {}, 15000);
      const d = await r.json();
      // A 404 says why in its reason; every other refusal in its error (both in the page's language).
      if (!r.ok) throw new Error((r.status === 404 && d.reason) || d.error || t("common.http", { status: r.status }));
      const parts = Object.entries(d.cameras).map(([cam, c]) => t("export.part",
        { camera: camName(cam), segments: c.segments, recorded: t("unit.s", { n: Math.round(c.recorded_s) }) }));
      info.textContent = t("export.downloading", { file: d.file, parts: parts.join("; ") });
      window.location.assign(`/api/export?${q}`);
    } catch (e) {
      info.textContent = t("export.refused", { why: e.message || e });
    }
  });
})();

/* Export of a time range (GET /api/export): the server checks the range first (check=1), so a
 * refusal is shown here; then the browser downloads the file the server makes as it sends it.
 */
"use strict";

(() => {
  const { $, pad, fetchWithin } = window.SHT;
  const form = $("export-form");
  if (!form) return;

  /* The value a datetime-local input takes: local time, to the second. */
  const local = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const now = new Date();
  $("export-to").value = local(now);
  $("export-from").value = local(new Date(now.getTime() - 10 * 60 * 1000));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams({ camera: $("export-camera").value, from: $("export-from").value, to: $("export-to").value });
    const info = $("export-info");
    info.textContent = "Checking…";
    try {
      const r = await fetchWithin(`/api/export?${q}&check=1`, {}, 15000);
      const d = await r.json();
      if (!r.ok) throw new Error(d.reason || d.error || `HTTP ${r.status}`);
      const parts = Object.entries(d.cameras).map(([cam, c]) => `camera ${cam}: ${c.segments} segments, ${Math.round(c.recorded_s)} s recorded`);
      info.textContent = `Downloading ${d.file} (${parts.join("; ")})`;
      window.location.assign(`/api/export?${q}`);
    } catch (e) {
      info.textContent = `Export not possible: ${e.message || e}`;
    }
  });
})();

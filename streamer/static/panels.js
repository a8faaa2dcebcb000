/* The panels filled from /api/status: statistics, recording per camera, and the disk banner. */
"use strict";

(() => {
  const { $, el, fmtBytes, fmtNum, fetchWithin } = window.SHT;
  const LOW_DISK_BYTES = 1e9;
  const RECORDER_STALE_S = 5;   // a status document older than this: the recorder is not running
  const viewName = (v) => (v === "dual" ? "Dual View" : `Camera ${v}`);
  // Capture states that explain a camera without pictures, with the capture's own reason.
  const EXPLAINED = { "not connected": "Not connected", off: "Live view off", error: "Camera error" };
  const explained = (c) => (c && EXPLAINED[c.state] ? `${EXPLAINED[c.state]}: ${c.reason || c.state}` : "");

  function renderStats(s, view, res) {
    const cams = s.cameras || {};
    const ids = view === "dual" ? Object.keys(cams).sort() : [view];
    const v = (s.views || []).find((x) => x.view === view && x.res === res);
    const limits = s.limits || {};
    const max = limits.max_clients_per_resolution;
    const byRes = limits.viewers_by_res || {};
    const ages = ids.map((id) => cams[id] && cams[id].frame_age_ms).filter((x) => x != null);
    $("st-showing").textContent = `${viewName(view)}, ${res}`;
    $("st-fps").textContent = v ? `${fmtNum(v.fps, 1)} fps` : ids.map((id) => fmtNum(cams[id] && cams[id].fps, 1)).join(" / ") + " fps (camera)";
    $("st-frames").textContent = v && v.frames_encoded != null
      ? `${fmtNum(v.frames_encoded)} encoded`
      : ids.map((id) => fmtNum(cams[id] && cams[id].frames)).join(" / ") + " captured";
    $("st-size").textContent = v && v.avg_jpeg_bytes ? fmtBytes(v.avg_jpeg_bytes) : "–";
    $("st-latency").textContent = ages.length ? `${fmtNum(Math.max(...ages))} ms` : "–";
    // Capture to socket, measured by the server for the streams of this view (ours among them).
    const sent = (s.viewers || []).filter((r) => r.view === view && r.res === res && r.latency_ms != null);
    $("st-delivery").textContent = sent.length
      ? `${fmtNum(sent.reduce((a, r) => a + r.latency_ms, 0) / sent.length, 1)} ms` : "–";
    $("st-viewers").textContent = `${byRes[res] != null ? byRes[res] : "–"} / ${max != null ? max : "–"} at ${res}`;
    $("st-encode").textContent = v && v.encode_ms != null ? `${fmtNum(v.encode_ms, 1)} ms` : "–";

    const body = $("cam-table").tBodies[0];
    body.replaceChildren(...Object.keys(cams).sort().map((id) => {
      const c = cams[id] || {};
      const tr = el("tr");
      const name = el("td", {}, c.name || `CAM ${id}`);
      name.style.color = c.live ? "var(--ok)" : "var(--bad)";
      name.title = c.live ? "live" : (explained(c) || c.error || "no frames");
      tr.dataset.state = c.state || "";
      tr.append(name, el("td", {}, EXPLAINED[c.state] ? c.state : c.source || "–"), el("td", {}, fmtNum(c.fps, 1)),
        el("td", {}, fmtNum(c.frames)), el("td", {}, fmtNum(c.drops)),
        el("td", {}, c.frame_age_ms != null ? `${fmtNum(c.frame_age_ms)} ms` : "–"));
      return tr;
    }));
    const notes = Object.keys(cams).sort().map((id) => [id, explained(cams[id])]).filter(([, t]) => t);
    $("cam-notes").replaceChildren(...notes.map(([id, t]) => el("p", { class: "err", "data-camera": id }, `Camera ${id} · ${t}`)));
  }

  /* "Recording paused by admin from 192.168.1.20 at 14:02; resumes by itself in 42 min."
     (A viewer is not told who: "Recording paused at 14:02; ...".) */
  function pauseText(p, now) {
    const at = p.at ? new Date(p.at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "–";
    let text = p.by ? `Recording paused by ${p.by} from ${p.from || "?"} at ${at}` : `Recording paused at ${at}`;
    if (p.until) {
      const left = Math.max(0, p.until - now);
      text += `; resumes by itself in ${left >= 60 ? `${Math.ceil(left / 60)} min` : `${Math.ceil(left)} s`}.`;
    } else {
      text += "; until resumed.";
    }
    return text;
  }

  function recorderCard(id, doc, wanted, onChange, cam, pause, now) {
    const card = el("div", { class: "rec-card", "data-camera": id });
    const fresh = doc && (doc.age_s == null || doc.age_s < RECORDER_STALE_S);
    const recState = fresh ? doc.state || "waiting" : "off";
    const label = { recording: "REC", paused: "PAUSED", waiting: "WAITING", error: "ERROR", off: "OFF" }[recState] || recState.toUpperCase();
    const h = el("h3", {}, `Camera ${id}`);
    h.append(el("span", { class: `rec-badge ${recState}`, "data-rec": recState }, label));
    card.append(h);
    if (!fresh) {
      card.append(el("p", { class: "muted" }, doc ? "The recorder stopped reporting." : "The recorder is not running."));
    } else {
      card.append(el("p", {}, `File: ${doc.current_file || "–"}`));
      const plural = (n, word) => `${fmtNum(n)} ${word}${n === 1 ? "" : "s"}`;
      card.append(el("p", { class: "muted" },
        `${plural(doc.segments_written, "segment")} written, ${plural(doc.frames_dropped, "frame")} dropped`));
      if (doc.last_error) card.append(el("p", { class: "err" }, `Last error: ${doc.last_error}`));
    }
    if (explained(cam)) card.append(el("p", { class: "muted", "data-camera-state": cam.state }, explained(cam)));
    if (pause) card.append(el("p", { class: "pause-note muted", "data-pause": id }, pauseText(pause, now)));
    const btn = el("button", { type: "button", class: "btn small", "data-rec-toggle": id },
      wanted ? "Pause recording" : "Resume recording");
    btn.disabled = !window.SHT.account.canControl();
    if (btn.disabled) btn.title = window.SHT.account.controlHint();
    btn.addEventListener("click", () => toggleRecording(id, !wanted, btn, onChange));
    card.append(btn);
    return card;
  }

  async function toggleRecording(id, on, btn, onChange) {
    btn.disabled = true;
    try {
      await fetchWithin(`/api/recording/${on ? "start" : "stop"}/${id}`, { method: "POST" });
    } catch (e) { /* the next status shows the truth */ }
    onChange();
  }

  function renderRecorders(s, onChange) {
    const recs = s.recorders || {};
    const wanted = (s.controls && s.controls.recording) || {};
    const paused = (s.controls && s.controls.paused) || {};
    const now = s.time || Date.now() / 1000;   // the server's clock: the pause's end is in it
    const ids = Object.keys(s.cameras || recs).sort();
    const cams = s.cameras || {};
    $("rec-cards").replaceChildren(...ids.map((id) => recorderCard(id, recs[id], wanted[id] !== false, onChange,
      cams[id], wanted[id] === false ? paused[id] : null, now)));
  }

  function renderDisk(s) {
    const docs = Object.values(s.recorders || {}).filter((d) => d && (d.age_s == null || d.age_s < 2 * RECORDER_STALE_S));
    const banner = $("disk");
    const frees = docs.map((d) => d.disk_free_bytes).filter((x) => x != null);
    if (!frees.length) {
      banner.dataset.level = "unknown";
      banner.textContent = "Disk: no recorder is reporting.";
      return;
    }
    const free = Math.min(...frees);
    const warn = docs.some((d) => d.disk_warning) || free < LOW_DISK_BYTES;
    const deletedCount = docs.reduce((n, d) => n + (d.retention_deleted_count || 0), 0);
    const deleted = docs.flatMap((d) => d.retention_deleted || []).filter((x) => x && x.file)
      .sort((a, b) => (b.at || 0) - (a.at || 0));
    let text = warn
      ? `⚠ Low disk space: ${fmtBytes(free)} free (under 1 GB). The oldest recordings are deleted to make room.`
      : `Disk: ${fmtBytes(free)} free.`;
    if (deletedCount) {
      const last = deleted[0];
      text += ` Retention deleted ${deletedCount} file${deletedCount === 1 ? "" : "s"}`;
      if (last) {
        const at = last.at ? new Date(last.at * 1000).toLocaleTimeString() : "";
        text += ` (latest: ${last.file}${last.bytes ? `, ${fmtBytes(last.bytes)}` : ""}${at ? `, at ${at}` : ""})`;
      }
      text += ".";
    } else {
      text += " Retention has deleted nothing.";
    }
    banner.dataset.level = warn ? "warning" : "ok";
    banner.textContent = text;
    banner.title = deleted.slice(0, 10).map((d) => d.file).join("\n");
  }

  /* Red banner from /api/health: the recordings disk not mounted, a camera that should record
     and has not finished a segment for more than two segment lengths, or retention that cannot
     keep the floor. */
  function renderHealth(h) {
    const banner = $("health");
    const limit = 2 * (h.segment_seconds || 30);
    const lines = [];
    if (h.disk && h.disk.error) lines.push(`Nothing is recorded: ${h.disk.error}.`);
    for (const [id, c] of Object.entries(h.cameras || {})) {
      if (!c.enabled) continue;
      const age = c.last_segment ? c.last_segment.age_s : null;
      if (age == null || age > limit) {
        const since = age == null ? "no recording finished yet" : `nothing recorded for ${fmtNum(age, 0)} s`;
        lines.push(`Camera ${id} is NOT recording: ${since} (recorder ${c.recorder}).`);
      }
      if (c.retention && c.retention.state && c.retention.state !== "ok") {
        lines.push(`Camera ${id}: retention ${c.retention.state}.`);
      }
    }
    banner.hidden = !lines.length;
    banner.textContent = lines.length ? `⚠ ${lines.join(" ")}` : "";
    banner.title = (h.reasons || []).join("\n");
  }

  window.SHT.panels = { renderStats, renderRecorders, renderDisk, renderHealth, viewName, explained };
})();

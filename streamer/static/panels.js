/* The panels filled from /api/status: statistics, recording per camera, and the disk banner. */
"use strict";

(() => {
  const { $, el, fmtBytes, fmtNum, fetchWithin, t, camName, fmtDateTime } = window.SHT;
  const LOW_DISK_BYTES = 1e9;
  const RECORDER_STALE_S = 5;   // a status document older than this: the recorder is not running
  const viewName = (v) => (v === "dual" ? t("live.dual") : camName(v));
  const ms = (n, digits = 0) => t("unit.ms", { n: fmtNum(n, digits) });
  const fps = (n) => t("unit.fps", { n: fmtNum(n, 1) });
  // Capture states that explain a camera without pictures, with the capture's own reason.
  const EXPLAINED = { "not connected": t("camstate.not_connected"), off: t("camstate.off"), error: t("camstate.error") };
  const SOURCES = { auto: t("source.auto"), synthetic: t("source.synthetic"), picamera2: t("source.picamera2"),
    file: t("source.file"), v4l2: t("source.v4l2"), rpicam: t("source.rpicam") };
  // The reason in the page's language where the server gives it one (reason_text), else as told.
  const explained = (c) => (c && EXPLAINED[c.state]
    ? `${EXPLAINED[c.state]}: ${c.reason_text || c.reason || EXPLAINED[c.state]}` : "");
  const REC_BADGES = { recording: "REC", paused: t("rec.badge_paused"), waiting: t("rec.badge_waiting"),
    error: t("rec.badge_error"), off: t("rec.badge_off"), stopped: t("rec.badge_stopped") };
  // Why retention cannot keep its rule, by the recorder's code (its own words otherwise).
  const RETENTION = { floor: t("retention.floor_short"), window: t("retention.window_short"),
    locked: t("retention.locked_short") };
  // The recorder's last error by its code: English keeps the recorder's words, Korean says it plainly.
  const REC_ERRORS = {
    failed: (detail) => t("recerror.failed", { detail }),
    write: (detail) => t("recerror.write", { detail }),
    short_segment: (detail) => t("recerror.short_segment", { detail }),
    lost_segment: (detail) => t("recerror.lost_segment", { detail }),
    disk_absent: (detail) => t("recerror.disk_absent", { detail }),
  };
  const ROLELESS = "anonymous";
  const LOOPBACK = ["127.0.0.1", "::1"];   // who a pause was made by when no account exists

  function renderStats(s, view, res) {
    const cams = s.cameras || {};
    const ids = view === "dual" ? Object.keys(cams).sort() : [view];
    // The low-data view plays the recorders' H.264: the MJPEG view's figures are not ours then.
    const lowdata = window.SHT.lowdata && window.SHT.lowdata.active();
    const v = lowdata ? undefined : (s.views || []).find((x) => x.view === view && x.res === res);
    const limits = s.limits || {};
    const max = limits.max_clients_per_resolution;
    const byRes = limits.viewers_by_res || {};
    const ages = ids.map((id) => cams[id] && cams[id].frame_age_ms).filter((x) => x != null);
    $("st-showing").textContent = lowdata ? t("live.detail_lowdata", { view: viewName(view) }) : `${viewName(view)}, ${res}`;
    $("st-fps").textContent = v ? fps(v.fps)
      : t("stats.fps_camera", { fps: ids.map((id) => fps(cams[id] && cams[id].fps)).join(" / ") });
    $("st-frames").textContent = v && v.frames_encoded != null
      ? t("stats.encoded", { n: fmtNum(v.frames_encoded) })
      : t("stats.captured", { n: ids.map((id) => fmtNum(cams[id] && cams[id].frames)).join(" / ") });
    $("st-size").textContent = v && v.avg_jpeg_bytes ? fmtBytes(v.avg_jpeg_bytes) : "–";
    $("st-latency").textContent = ages.length ? ms(Math.max(...ages)) : "–";
    // Capture to socket, measured by the server for the streams of this view (ours among them).
    const sent = lowdata ? []
      : (s.viewers || []).filter((r) => r.view === view && r.res === res && r.latency_ms != null);
    $("st-delivery").textContent = sent.length
      ? ms(sent.reduce((a, r) => a + r.latency_ms, 0) / sent.length, 1) : "–";
    $("st-viewers").textContent = t("stats.viewers_at",
      { n: byRes[res] != null ? byRes[res] : "–", max: max != null ? max : "–", res });
    $("st-encode").textContent = v && v.encode_ms != null ? ms(v.encode_ms, 1) : "–";

    const body = $("cam-table").tBodies[0];
    body.replaceChildren(...Object.keys(cams).sort().map((id) => {
      const c = cams[id] || {};
      const tr = el("tr");
      const name = el("td", {}, camName(id));
      name.style.color = c.live ? "var(--ok)" : "var(--bad)";
      name.title = c.live ? t("cams.live") : (explained(c) || c.error || t("cams.no_frames"));
      tr.dataset.state = c.state || "";
      tr.append(name, el("td", {}, EXPLAINED[c.state] || SOURCES[c.source] || c.source || "–"),
        el("td", {}, fmtNum(c.fps, 1)), el("td", {}, fmtNum(c.frames)), el("td", {}, fmtNum(c.drops)),
        el("td", {}, c.frame_age_ms != null ? ms(c.frame_age_ms) : "–"));
      return tr;
    }));
    const notes = Object.keys(cams).sort().map((id) => [id, explained(cams[id])]).filter(([, text]) => text);
    $("cam-notes").replaceChildren(...notes.map(([id, text]) => el("p", { class: "err", "data-camera": id }, `${camName(id)} · ${text}`)));
  }

  /* "Recording paused by admin from 192.168.1.20 at 14:02:05; resumes by itself in 42 min."
     (A viewer is not told who: "Recording paused at 14:02:05; ...".) */
  function pauseText(p, now) {
    const at = fmtDateTime(p.at, false);
    // The camera machine itself is named as such, not by its loopback address.
    const from = LOOPBACK.includes(p.from) ? t("pause.this_machine") : p.from || "?";
    let text = !p.by ? t("pause.at", { at }) : p.by === ROLELESS ? t("pause.someone", { from, at })
      : t("pause.by", { by: p.by, from, at });
    if (p.until) {
      const left = Math.max(0, p.until - now);
      text += left >= 60 ? t("pause.ends_min", { n: Math.ceil(left / 60) }) : t("pause.ends_s", { n: Math.ceil(left) });
    } else {
      text += t("pause.until_resumed");
    }
    return text;
  }

  function recorderCard(id, doc, wanted, onChange, cam, pause, now) {
    const card = el("div", { class: "rec-card", "data-camera": id });
    const fresh = doc && (doc.age_s == null || doc.age_s < RECORDER_STALE_S);
    // Paused is what the controls say at once; the recorder's own document follows a moment later.
    const recState = !fresh ? "off" : !wanted ? "paused" : doc.state || "waiting";
    const label = REC_BADGES[recState] || recState.toUpperCase();
    const h = el("h3", {}, camName(id));
    h.append(el("span", { class: `rec-badge ${recState}`, "data-rec": recState }, label));
    card.append(h);
    if (!fresh) {
      card.append(el("p", { class: "muted" }, doc ? t("rec.silent") : t("rec.not_running")));
    } else {
      card.append(el("p", {}, t("rec.file", { file: doc.current_file || "–" })));
      card.append(el("p", { class: "muted" },
        t("rec.counts", { segments: fmtNum(doc.segments_written), frames: fmtNum(doc.frames_dropped) })));
      if (doc.last_error) {
        const say = REC_ERRORS[doc.last_error_code];
        const line = el("p", { class: "err" }, t("rec.last_error", { error: say ? say(doc.last_error) : doc.last_error }));
        line.title = doc.last_error;   // the recorder's own words, for whoever fixes it
        card.append(line);
      }
    }
    if (explained(cam)) card.append(el("p", { class: "muted", "data-camera-state": cam.state }, explained(cam)));
    if (pause) card.append(el("p", { class: "pause-note muted", "data-pause": id }, pauseText(pause, now)));
    if (wanted && !fresh) return card;   // nothing records: there is nothing to pause
    const btn = el("button", { type: "button", class: "btn small", "data-rec-toggle": id },
      wanted ? t("rec.pause") : t("rec.resume"));
    btn.disabled = !window.SHT.account.canControl();
    if (btn.disabled) btn.title = window.SHT.account.controlHint();
    btn.addEventListener("click", () => (wanted ? confirmPause(id, btn, onChange)
      : toggleRecording(id, true, btn, onChange)));
    card.append(btn);
    return card;
  }

  /* Pausing stops the evidence: it is asked for twice. */
  function confirmPause(id, btn, onChange) {
    const dialog = $("pause-dialog");
    $("pause-q").textContent = t("pause.ask", { cam: camName(id) });
    dialog.onclose = () => {
      if (dialog.returnValue === "pause") toggleRecording(id, false, btn, onChange);
      else { const again = document.querySelector(`[data-rec-toggle="${id}"]`); if (again) again.focus(); }
    };
    dialog.returnValue = "";
    dialog.showModal();
    $("pause-cancel").focus();
  }

  /* While a camera is paused, a banner at the top says who paused it, since when and until when. */
  function renderPauseBanner(ids, wanted, paused, now) {
    const lines = ids.filter((id) => wanted[id] === false).map((id) => {
      const p = paused[id] || {};
      const end = p.until ? t("pause.ends_at", { at: fmtDateTime(p.until, false) }) : "";
      return `${camName(id)}: ${pauseText(p, now)}${end}`;
    });
    const banner = $("pause-banner");
    banner.hidden = !lines.length;
    banner.textContent = lines.join(" ");
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
    renderPauseBanner(ids, wanted, paused, now);
  }

  function renderDisk(s) {
    const docs = Object.values(s.recorders || {}).filter((d) => d && (d.age_s == null || d.age_s < 2 * RECORDER_STALE_S));
    const banner = $("disk");
    const frees = docs.map((d) => d.disk_free_bytes).filter((x) => x != null);
    if (!frees.length) {
      banner.dataset.level = "unknown";
      banner.textContent = t("disk.unknown");
      return;
    }
    const free = Math.min(...frees);
    const warn = docs.some((d) => d.disk_warning) || free < LOW_DISK_BYTES;
    const deletedCount = docs.reduce((n, d) => n + (d.retention_deleted_count || 0), 0);
    const deleted = docs.flatMap((d) => d.retention_deleted || []).filter((x) => x && x.file)
      .sort((a, b) => (b.at || 0) - (a.at || 0));
    let text = t(warn ? "disk.low" : "disk.free", { free: fmtBytes(free) });
    if (deletedCount) {
      const last = deleted[0];
      text += deletedCount === 1 ? t("disk.deleted_one") : t("disk.deleted_many", { n: deletedCount });
      if (last) text += t("disk.latest", { file: last.file, size: fmtBytes(last.bytes), at: fmtDateTime(last.at) });
      text += t("disk.end");
    } else {
      text += t("disk.none_deleted");
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
    const starting = [];   // writing their first recording since start: said calmly, not as an alarm
    if (h.disk && h.disk.error) lines.push(t("health.no_disk", { why: h.disk.error_text || h.disk.error }));
    for (const [id, c] of Object.entries(h.cameras || {})) {
      if (!c.enabled) continue;
      const age = c.last_segment ? c.last_segment.age_s : null;
      if (c.starting) {
        starting.push(t("health.starting", { cam: camName(id) }));
      } else if (age == null || age > limit) {
        const since = age == null ? t("health.none_yet") : t("health.silent_for", { s: t("unit.s", { n: fmtNum(age, 0) }) });
        lines.push(t("health.not_recording", { cam: camName(id), since }));
      }
      if (c.retention && c.retention.state && c.retention.state !== "ok") {
        const what = RETENTION[c.retention.code] || c.retention.state;
        lines.push(t("health.retention", { cam: camName(id), state: what }));
      }
    }
    banner.hidden = !lines.length && !starting.length;
    banner.dataset.level = lines.length ? "failing" : "starting";
    banner.setAttribute("role", lines.length ? "alert" : "status");
    banner.textContent = lines.length ? `⚠ ${lines.concat(starting).join(" ")}` : starting.join(" ");
    banner.title = (h.reasons_text || h.reasons || []).join("\n");
    renderOffsite(h.offsite, h.time || Date.now() / 1000);
  }

  // Why an upload failed, by the uploader's cause (its own words are in the banner's title).
  const OFFSITE_CAUSES = { quota: t("health.offsite_cause_quota"), auth: t("health.offsite_cause_auth"),
    network: t("health.offsite_cause_network"), other: t("health.offsite_cause_other") };
  const lagText = (s) => (s < 120 ? t("unit.s", { n: fmtNum(s, 0) })
    : t("health.offsite_min", { n: fmtNum(s / 60, 0) }));

  /* Off-site copies, from /api/health's offsite block: the remote, what waits and since when,
     the last success and why sending fails.  Its banner is made under the disk banner the
     first time copies are configured; hidden while they are off. */
  function renderOffsite(o, now) {
    let box = $("offsite");
    if (!o) {
      if (box) box.hidden = true;
      return;
    }
    if (!box) {
      box = el("div", { id: "offsite", class: "banner", role: "status" });
      $("disk").after(box);
    }
    const waiting = o.queued_segments || 0;
    const at = o.last_sent_at;
    const queue = waiting
      ? t("health.offsite_queued", { n: fmtNum(waiting), size: fmtBytes(o.queued_bytes), lag: lagText(o.lag_s || 0) })
      : t("health.offsite_all_sent");
    const sent = at != null ? t("health.offsite_last_sent", { at: fmtDateTime(at, now - at > 86400) })
      : t("health.offsite_never_sent");
    const remote = el("span", { translate: false, "data-offsite": "remote" }, o.remote);
    const parts = [t("health.offsite_title"), " (", remote, "): ", queue, ", ", sent, ". "];
    if (!o.running) {
      parts.push(el("span", { class: "err", "data-offsite": "down" }, t("health.offsite_not_running")));
    } else if (o.state === "error" && o.last_error_cause) {
      const cause = OFFSITE_CAUSES[o.last_error_cause] || OFFSITE_CAUSES.other;
      parts.push(el("span", { class: "err", "data-offsite-cause": o.last_error_cause },
        t("health.offsite_failing", { cause })));
    }
    if (o.lost_before_upload) parts.push(" ", t("health.offsite_lost", { n: fmtNum(o.lost_before_upload) }));
    box.replaceChildren(...parts);
    box.title = o.last_error || "";   // the uploader's own words, for whoever fixes it
    box.dataset.level = o.status === "ok" ? "ok" : "warning";
    box.hidden = false;
  }

  window.SHT.panels = { renderStats, renderRecorders, renderDisk, renderHealth, viewName, explained };
})();

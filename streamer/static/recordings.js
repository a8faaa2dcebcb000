/* Recordings browser: per camera and day, a 24-hour bar (recorded time and gaps at a glance),
 * a one-hour bar where single segments can be picked, each with the motion strip under it, the
 * list of segments, and the day player (player.js).  Both bars are sliders over the play
 * position: a click or the arrow keys play that time, across files.
 */
"use strict";

(() => {
  const { $, el, storage, fmtBytes, fmtNum, pad, fmtClock, fmtDay, fetchWithin, pressed, t, player } = window.SHT;
  const secs = (n, digits = 1) => (n != null ? t("unit.s", { n: fmtNum(n, digits) }) : "?");
  const DAY_S = 86400;
  const HOUR_S = 3600;
  const GAP_TOLERANCE_S = 1.5;  // file names have 1 s resolution
  const REFRESH_MS = 15000;  // a new segment appears every 30 s

  // Slider steps in seconds (arrow key, page key): a minute on the day bar, 10 s on the hour bar.
  const STEPS = { tl: [60, HOUR_S], hour: [10, 300] };

  const rec = { cam: "0", date: null, data: null, sig: "", hour: null, timer: 0, active: false };

  /* Both bars are made of the same parts: the recorded track, the play cursor, the motion
   * strip under the bar (its marks drawn by events.js; under, not over, so that no mark hides
   * a gap), and the tick labels; ids are "<data-parts>-track" etc. */
  for (const line of document.querySelectorAll(".timeline[data-parts]")) {
    const id = (part) => `${line.dataset.parts}-${part}`;
    const cursor = el("div", { class: "tl-cursor", id: id("cursor") });
    cursor.hidden = true;
    line.replaceChildren(el("div", { class: "tl-track", id: id("track") }), cursor);
    const ticks = el("div", { class: "tl-hours", "aria-hidden": "true" });
    ticks.replaceChildren(...line.dataset.ticks.split(" ").map((t) => el("span", {}, t)));
    line.after(el("div", { class: "tl-motion", id: id("marks") }), ticks);
  }

  /* The day in the form the player takes. */
  const dayList = (d) => ({ cam: String(d.camera), date: d.date, segments: d.segments, gaps: d.gaps || [] });

  /* What plays, when it is of the camera and day on show. */
  function playingHere() {
    const now = player.current();
    return now && rec.data && now.cam === String(rec.data.camera) && now.date === rec.data.date ? now : null;
  }

  const endOf = (s) => s.start_s + (s.duration_s || 0);

  function runsOf(segments) {
    const runs = [];
    for (const s of segments) {
      const last = runs[runs.length - 1];
      if (last && s.start_s <= last.end + GAP_TOLERANCE_S) last.end = Math.max(last.end, endOf(s));
      else runs.push({ start: s.start_s, end: endOf(s) });
    }
    return runs;
  }

  /* A block from ``start`` to ``end`` (seconds of the day) on a bar covering [from, from + span). */
  function bar(cls, start, end, from, span, title) {
    const left = Math.max(from, Math.min(from + span, start));
    const right = Math.max(left, Math.min(from + span, end));
    const node = el("div", { class: cls, title: `${title}: ${fmtClock(start)} – ${fmtClock(end)}` });
    node.style.left = `${((left - from) / span) * 100}%`;
    node.style.width = `${((right - left) / span) * 100}%`;
    return node;
  }

  // A gap names its cause where the recorder knew it (paused by whom, restarted, clock step...),
  // in the page's language where the server gives it one (cause_text).
  function gapBar(g, from, span) {
    const why = g.cause_text || g.cause;
    const node = bar(`tl-gap${g.cause ? " tl-gap-known" : ""}`, g.start_s, g.end_s, from, span,
      why ? t("recs.gap_why", { s: secs(g.duration_s), why }) : t("recs.gap", { s: secs(g.duration_s) }));
    if (g.cause) node.dataset.cause = g.cause;
    return node;
  }

  const overlaps = (start, end, from, span) => start < from + span && end > from;

  function renderDay(d) {
    // Recorded runs in blue; a hole between two segments in red, however short, so it shows.
    const runs = runsOf(d.segments).map((r) => bar("tl-run", r.start, r.end, 0, DAY_S, t("recs.recorded")));
    const gaps = (d.gaps || []).map((g) => gapBar(g, 0, DAY_S));
    $("tl-track").replaceChildren(...runs, ...gaps);
    const n = (d.gaps || []).length;
    $("day-summary").textContent = d.segments.length
      ? t("recs.summary", { day: fmtDay(d.date), segments: d.segments.length,
        recorded: fmtClock(Math.round(d.recorded_s || 0)), size: fmtBytes(d.total_bytes),
        gaps: n === 1 ? t("recs.gaps_one") : t("recs.gaps_many", { n }) })
      : t("recs.empty_day", { day: fmtDay(d.date) });
  }

  function renderHour() {
    const d = rec.data;
    const h = rec.hour == null ? 0 : rec.hour;
    const from = h * HOUR_S;
    const nodes = [];
    if (d) {
      const now = playingHere();
      for (const s of d.segments) {
        if (!overlaps(s.start_s, endOf(s), from, HOUR_S)) continue;
        const node = bar(`tl-seg${now && now.seg.file === s.file ? " playing" : ""}`, s.start_s, endOf(s), from, HOUR_S, s.file);
        node.dataset.file = s.file;
        nodes.push(node);
      }
      for (const g of d.gaps || []) {
        if (overlaps(g.start_s, g.end_s, from, HOUR_S)) {
          nodes.push(gapBar(g, from, HOUR_S));
        }
      }
    }
    $("hour-track").replaceChildren(...nodes);
    $("hour-label").textContent = `${pad(h)}:00 – ${pad(h + 1)}:00`;
    $("hour-prev").disabled = h <= 0;
    $("hour-next").disabled = h >= 23;
    if (window.SHT.events) window.SHT.events.renderHour(h);
    moveCursor();
  }

  function renderSegments(d) {
    const now = playingHere();
    const rows = d.segments.slice().reverse().map((s) => {
      const tr = el("tr", { "data-file": s.file });
      if (now && now.seg.file === s.file) tr.className = "playing";
      const play = el("button", { type: "button", class: "btn small", "data-play": s.file }, t("recs.play"));
      play.addEventListener("click", () => player.start(dayList(d), s));
      const dl = el("a", { class: "btn small", href: `${s.url}?download=1`, download: s.file }, t("recs.download"));
      const actions = el("td");
      actions.append(play, dl);
      tr.append(el("td", {}, fmtClock(s.start_s)),
        el("td", {}, secs(s.duration_s)),
        el("td", {}, fmtBytes(s.size_bytes)), actions);
      return tr;
    });
    if (!rows.length) {
      const td = el("td", { class: "muted" }, t("recs.none"));
      td.colSpan = 4;
      const tr = el("tr");
      tr.append(td);
      rows.push(tr);
    }
    $("segments").tBodies[0].replaceChildren(...rows);
  }

  function renderDays(d) {
    const days = d.days.map((x) => x.date);
    if (!days.includes(d.date)) days.push(d.date);
    days.sort().reverse();
    $("day-select").replaceChildren(...days.map((day) => {
      const info = d.days.find((x) => x.date === day);
      return el("option", { value: day, selected: day === d.date }, `${fmtDay(day)}${info ? ` (${info.segments})` : ""}`);
    }));
  }

  function markCamera() {
    for (const b of document.querySelectorAll("[data-rcam]")) pressed(b, b.dataset.rcam === rec.cam);
  }

  async function load(date) {
    const q = `/api/recordings?camera=${encodeURIComponent(rec.cam)}${date ? `&date=${encodeURIComponent(date)}` : ""}`;
    try {
      const r = await fetchWithin(q, {}, 15000);
      const d = await r.json();
      if (!r.ok) throw new Error(d.error || t("common.http", { status: r.status }));
      const sig = `${d.camera}/${d.date}/${d.segments.length}/${d.total_bytes}`;
      const newDay = !rec.data || rec.data.date !== d.date || rec.data.camera !== d.camera;
      rec.data = d;
      rec.date = d.date;
      renderDays(d);
      if (newDay) {
        const last = d.segments[d.segments.length - 1];
        rec.hour = last ? Math.floor(last.start_s / HOUR_S) : window.SHT.cameraClock(Date.now() / 1000).getUTCHours();
      }
      player.update(dayList(d));
      if (sig !== rec.sig) {
        rec.sig = sig;
        renderDay(d);
        renderSegments(d);
        renderHour();
      }
      if (window.SHT.events) window.SHT.events.load(rec.cam, rec.date, rec.hour || 0);
    } catch (e) {
      $("day-summary").textContent = t("recs.unavailable", { why: e.message || e });
    }
  }

  /* The player moved to file ``s``: mark it, and follow it on the hour bar. */
  function segmentShown(s) {
    const here = playingHere();
    for (const tr of $("segments").tBodies[0].rows) tr.classList.toggle("playing", !!here && tr.dataset.file === s.file);
    if (here) {
      rec.hour = Math.floor(s.start_s / HOUR_S);
      renderHour();
    }
  }

  /* A bar as a slider: its value is the play position (seconds of the day), told as a time,
   * and whether there was motion then. */
  function sliderValue(line, from, span, when) {
    line.setAttribute("aria-valuemin", String(from));
    line.setAttribute("aria-valuemax", String(from + span));
    const inside = when != null && when >= from && when <= from + span;
    line.setAttribute("aria-valuenow", String(Math.round(inside ? when : from)));
    const moving = inside && window.SHT.events && window.SHT.events.movingAt(when);
    line.setAttribute("aria-valuetext", !inside ? t("recs.pick")
      : moving ? t("recs.time_motion", { time: fmtClock(when) }) : fmtClock(when));
  }

  function moveCursor() {
    const now = playingHere();
    const when = now ? Math.min(DAY_S, now.when) : null;
    const dayCursor = $("tl-cursor");
    const hourCursor = $("hour-cursor");
    const from = (rec.hour || 0) * HOUR_S;
    sliderValue($("timeline"), 0, DAY_S, when);
    sliderValue($("hourline"), from, HOUR_S, when);
    if (when == null) { dayCursor.hidden = true; hourCursor.hidden = true; return; }
    dayCursor.hidden = false;
    dayCursor.style.left = `${(when / DAY_S) * 100}%`;
    hourCursor.hidden = !(when >= from && when <= from + HOUR_S);
    hourCursor.style.left = `${((when - from) / HOUR_S) * 100}%`;
  }

  function playAt(when, back = false, run = true) {
    if (rec.data) player.at(dayList(rec.data), when, back, run);
  }

  /* Arrow keys step the play position, page keys step further, Home and End go to the day's
   * first and last file; from nothing playing, a step starts at the bar's beginning.  A paused
   * player stays paused, so that one can step through a scene. */
  function onSliderKey(ev, line) {
    const segs = rec.data ? rec.data.segments : [];
    if (!segs.length) return;
    const [step, page] = STEPS[line.dataset.parts];
    const now = playingHere();
    const here = now ? now.when : line.id === "hourline" ? (rec.hour || 0) * HOUR_S : segs[0].start_s;
    const moves = { ArrowRight: step, ArrowUp: step, ArrowLeft: -step, ArrowDown: -step, PageUp: page, PageDown: -page };
    const ends = { Home: segs[0].start_s, End: segs[segs.length - 1].start_s };
    let to;
    if (ev.key in ends) to = ends[ev.key];
    else if (ev.key in moves) to = here + moves[ev.key];
    else return;
    ev.preventDefault();
    playAt(Math.max(0, Math.min(DAY_S - 1, to)), to < here, !(now && player.paused()));
  }

  function timeAt(ev, box, from, span) {
    const rect = box.getBoundingClientRect();
    return from + Math.max(0, Math.min(1, (ev.clientX - rect.left) / rect.width)) * span;
  }

  function scheduleRefresh() {
    clearTimeout(rec.timer);
    rec.timer = setTimeout(async () => {
      const newest = rec.data && (rec.data.days[rec.data.days.length - 1] || {}).date;
      if (rec.active && !document.hidden && (!rec.data || rec.date === newest)) await load(rec.date);
      scheduleRefresh();
    }, REFRESH_MS);
  }

  function init() {
    const saved = storage.get("sht.rcam");
    if (saved === "0" || saved === "1") rec.cam = saved;
    markCamera();
    for (const b of document.querySelectorAll("[data-rcam]")) {
      b.addEventListener("click", () => {
        showCamera(b.dataset.rcam);
        load(null);
      });
    }
    $("day-select").addEventListener("change", (ev) => { rec.sig = ""; load(ev.target.value); });
    $("btn-refresh").addEventListener("click", () => { rec.sig = ""; load(rec.date); });
    $("timeline").addEventListener("click", (ev) => {
      const t = timeAt(ev, $("timeline"), 0, DAY_S);
      rec.hour = Math.min(23, Math.floor(t / HOUR_S));
      renderHour();
      playAt(t);
    });
    $("hourline").addEventListener("click", (ev) => playAt(timeAt(ev, $("hourline"), (rec.hour || 0) * HOUR_S, HOUR_S)));
    for (const line of [$("timeline"), $("hourline")]) line.addEventListener("keydown", (ev) => onSliderKey(ev, line));
    $("hour-prev").addEventListener("click", () => { rec.hour = Math.max(0, (rec.hour || 0) - 1); renderHour(); });
    $("hour-next").addEventListener("click", () => { rec.hour = Math.min(23, (rec.hour || 0) + 1); renderHour(); });
    player.listen(moveCursor, segmentShown);
    scheduleRefresh();
  }

  function showCamera(cam) {
    rec.cam = cam;
    storage.set("sht.rcam", cam);
    rec.sig = "";
    markCamera();
  }

  /* A motion event, of either camera: its camera's day on show, then the segment the API
   * names, from the event's start (less the pre-roll). */
  async function playEvent(ev) {
    if (String(ev.camera) !== rec.cam || ev.date !== rec.date) {
      showCamera(String(ev.camera));
      await load(ev.date);
    }
    if (!rec.data || String(rec.data.camera) !== String(ev.camera)) return;
    const s = ev.play && rec.data.segments.find((x) => x.file === ev.play.file);
    if (s) player.start(dayList(rec.data), s, ev.play.offset_s);
    else playAt(ev.start_s - (ev.pre_s || 0));
  }

  window.SHT.recordings = {
    init,
    playEvent,
    show() { rec.active = true; load(rec.date); },
    hide() { rec.active = false; player.pause(); },
  };
})();

/* The day player: one camera's day played across its segment files as one recording.
 *
 * Two <video> elements take turns.  While one plays a file, the other holds the next file,
 * loaded up to its first picture; when the first ends, the second takes its place at once.
 * Plain files rather than MediaSource: they play on every phone browser (some have no
 * MediaSource), each keeps its HTTP Range seeking, and the browser bounds what it buffers
 * without the page keeping or evicting anything.  A hole between two files is skipped and said
 * so; a seek into a hole plays from the next file (or, going back, the end of the one before).
 * The element on screen always has the id "player" and names its file in data-file.
 */
"use strict";

(() => {
  const { $, fmtNum, fmtClock, fmtDay, fmtBytes, t, camName } = window.SHT;
  const GAP_TOLERANCE_S = 1.5;  // file names have 1 s resolution
  const secs = (n) => t("unit.s", { n: fmtNum(n, 1) });
  const endOf = (s) => s.start_s + (s.duration_s || 0);

  // list: the day being played ({cam, date, segments, gaps}); seg: its file on screen.
  const state = { list: null, seg: null, onMove: () => {}, onSegment: () => {} };
  const shown = () => $("player");
  const spare = () => $("player-next");

  const holds = (video, seg) => video.getAttribute("src") === seg.url;

  function load(video, seg) {
    video.src = seg.url;
    video.dataset.file = seg.file;
  }

  function following(seg) {
    const segs = state.list.segments;
    const i = segs.findIndex((s) => s.file === seg.file);
    return i >= 0 && i + 1 < segs.length ? segs[i + 1] : null;
  }

  /* The hole between consecutive files ``a`` and ``b``, with its cause where the day's gaps
   * name one; null when they are back to back. */
  function holeBetween(a, b) {
    if (b.start_s - endOf(a) <= GAP_TOLERANCE_S) return null;
    const known = (state.list.gaps || []).find((g) => g.start_s < b.start_s && g.end_s > endOf(a));
    return known || { start_s: endOf(a), end_s: b.start_s, duration_s: b.start_s - endOf(a) };
  }

  function skipped(g) {
    const why = g.cause_text || g.cause;
    const args = { s: secs(g.duration_s), from: fmtClock(g.start_s), to: fmtClock(g.end_s) };
    return why ? t("recs.skipped_why", { ...args, why }) : t("recs.skipped", args);
  }

  function preloadNext() {
    const next = state.seg && following(state.seg);
    const v = spare();
    if (next && !holds(v, next)) load(v, next);
  }

  function swap() {
    const a = shown();
    const b = spare();
    a.pause();
    a.id = "player-next";
    b.id = "player";
    a.hidden = true;
    a.controls = false;
    b.hidden = false;
    b.controls = true;
  }

  function seekIn(v, offset) {
    if (v.readyState >= 1) { v.currentTime = offset; return; }
    const file = v.dataset.file;
    v.addEventListener("loadedmetadata", () => { if (v.dataset.file === file) v.currentTime = offset; }, { once: true });
  }

  /* Play file ``seg`` of day ``list`` from ``offset`` seconds, saying ``note`` under the player
   * (or, with ``run`` false, show it there, paused). */
  function start(list, seg, offset = 0, note = "", run = true) {
    state.list = list;
    state.seg = seg;
    if (holds(spare(), seg)) swap();
    else if (!holds(shown(), seg)) load(shown(), seg);
    const v = shown();
    seekIn(v, offset);
    if (run) {
      const p = v.play();
      if (p && p.catch) p.catch(() => { /* playback refused until the user presses play */ });
    } else v.pause();
    $("playing-title").textContent = `${camName(list.cam)}, ${fmtDay(list.date)} ${fmtClock(seg.start_s)}`;
    $("playing-info").textContent = `${seg.file} · ${secs(seg.duration_s)} · ${fmtBytes(seg.size_bytes)}`;
    $("playing-note").textContent = note;
    preloadNext();
    state.onSegment(seg);
    state.onMove();
  }

  /* Play day ``list`` at ``when`` (seconds of the day); in a hole, the next file from its
   * start, or with ``back`` the last second of the file before. */
  function at(list, when, back = false, run = true) {
    const segs = list.segments;
    if (!segs.length) return;
    const inside = segs.find((s) => when >= s.start_s && when < endOf(s));
    if (inside) { start(list, inside, when - inside.start_s, "", run); return; }
    const after = segs.find((s) => s.start_s > when);
    const before = segs.filter((s) => endOf(s) <= when).pop();
    const seg = (back && before) || after || before;
    const offset = seg === after ? 0 : Math.max(0, (seg.duration_s || 0) - 1);
    start(list, seg, offset, t("recs.nothing_at", { time: fmtClock(when), next: fmtClock(seg.start_s + offset) }), run);
  }

  /* From the end of the file on screen to the next one, over a hole if there is one. */
  function goOn(next) {
    const hole = holeBetween(state.seg, next);
    start(state.list, next, 0, hole ? skipped(hole) : "");
  }

  function onEnded(ev) {
    if (ev.target !== shown() || !state.seg) return;
    const next = following(state.seg);
    if (next) goOn(next);
    else $("playing-note").textContent = t("recs.day_end");
  }

  for (const v of [shown(), spare()]) {
    v.addEventListener("ended", onEnded);
    v.addEventListener("timeupdate", (ev) => { if (ev.target === shown()) state.onMove(); });
  }

  window.SHT.player = {
    start,
    at,
    /* A newer listing of the day being played (a file was added): the next file follows it,
     * and a player that had come to the end of the day goes on with it. */
    update(list) {
      if (!state.list || list.cam !== state.list.cam || list.date !== state.list.date) return;
      state.list = list;
      const next = shown().ended && following(state.seg);
      if (next) goOn(next);
      else preloadNext();
    },
    /* What plays: {cam, date, seg, when} (when: seconds of the day), or null. */
    current() {
      if (!state.seg) return null;
      return { cam: state.list.cam, date: state.list.date, seg: state.seg,
        when: state.seg.start_s + (shown().currentTime || 0) };
    },
    listen(onMove, onSegment) { state.onMove = onMove; state.onSegment = onSegment; },
    pause() { shown().pause(); },
    /* Paused by the user (not at the end of a file). */
    paused() { return !!state.seg && shown().paused && !shown().ended; },
  };
})();

/* Motion events in the recordings browser: marks on the motion strips under the day and hour
 * bars (the camera on show), and one list of both cameras' events, newest first, each picture
 * with the moving area outlined; a click plays the segment that holds the event, from its start.
 * An event still going on says so (its picture follows its peak; it plays once its first segment
 * is written).  recordings.js calls load() after each refresh and renderHour() when the hour changes.
 */
"use strict";

(() => {
  const { $, el, fmtClock, fmtNum, fetchWithin, t, camName } = window.SHT;
  const secs = (n) => t("unit.s", { n: fmtNum(n, 0) });
  const DAY_S = 86400;
  const HOUR_S = 3600;

  // sig: what was drawn last (null: nothing yet, so an empty day is drawn and says so).
  const evs = { cam: null, date: null, list: [], sig: null, hour: 0 };

  function play(ev) {
    window.SHT.recordings.playEvent(ev);
  }

  function marker(ev, from, span) {
    const left = Math.max(0, (ev.start_s - from) / span);
    const width = Math.max(0, (Math.min(ev.end_s, from + span) - Math.max(ev.start_s, from)) / span);
    const node = el("div", {
      class: `ev-mark${ev.ongoing ? " ongoing" : ""}`, "data-event": String(ev.id),
      title: t(ev.ongoing ? "events.mark_ongoing" : "events.mark", { time: fmtClock(Math.floor(ev.start_s)),
        duration: secs(ev.duration_s), peak: fmtNum(ev.peak_area_percent, 1) }),
    });
    node.style.left = `${left * 100}%`;
    node.style.width = `${width * 100}%`;
    node.addEventListener("click", (e) => { e.stopPropagation(); play(ev); });
    return node;
  }

  const shownCamera = () => evs.list.filter((ev) => String(ev.camera) === evs.cam);

  function renderDay() {
    $("tl-marks").replaceChildren(...shownCamera().map((ev) => marker(ev, 0, DAY_S)));
  }

  function renderHour(hour) {
    if (hour != null) evs.hour = hour;
    const from = evs.hour * HOUR_S;
    const inHour = shownCamera().filter((ev) => ev.start_s < from + HOUR_S && ev.end_s >= from);
    $("hour-marks").replaceChildren(...inHour.map((ev) => marker(ev, from, HOUR_S)));
  }

  /* The thumbnail with the moving area (bbox_percent: x, y, width, height in % of the picture)
   * outlined by a box laid over it: the picture itself is left as stored. */
  function picture(ev) {
    const box = el("span", { class: "ev-pic" });
    box.append(el("img", { src: ev.thumbnail, alt: "", loading: "lazy", width: 160, height: 120 }));
    const b = ev.bbox_percent;
    if (b && b.length === 4) {
      const outline = el("i", { class: "ev-box" });
      [outline.style.left, outline.style.top, outline.style.width, outline.style.height] = b.map((v) => `${v}%`);
      box.append(outline);
    }
    return box;
  }

  function renderList() {
    const items = evs.list.map((ev) => {
      const kind = ev.video_deleted ? " gone" : ev.ongoing ? " ongoing" : "";
      const card = el("button", { type: "button", class: `ev-card${kind}`, "data-event": String(ev.id),
        "data-camera": String(ev.camera) });
      const pic = ev.thumbnail ? picture(ev)
        : el("div", { class: "ev-nopic" }, ev.ongoing ? t("events.in_progress") : t("events.no_picture"));
      const dur = secs(ev.duration_s);
      const what = ev.video_deleted ? t("events.video_deleted") : ev.ongoing ? t("events.so_far", { duration: dur })
        : ev.play ? dur : t("events.not_recorded");
      const when = el("span", { class: "ev-time" }, fmtClock(Math.floor(ev.start_s)));
      if (ev.ongoing) when.append(" ", el("span", { class: "ev-live" }, t("events.in_progress")));
      card.append(pic, el("span", { class: "ev-cam" }, camName(ev.camera)), when,
        el("span", { class: "muted" }, `${what} · ${fmtNum(ev.peak_area_percent, 1)}%`));
      card.disabled = !ev.play || ev.video_deleted;
      if (ev.ongoing && !ev.play) card.title = t("events.plays_later");
      card.addEventListener("click", () => play(ev));
      return card;
    });
    $("events-count").textContent = `${evs.list.length}`;
    if (!items.length) items.push(el("p", { class: "muted events-none" }, t("events.none")));
    $("events-list").replaceChildren(...items);
  }

  async function load(cam, date, hour) {
    if (date == null) return;
    if (date !== evs.date) { evs.list = []; evs.sig = null; }
    if (cam !== evs.cam) evs.sig = null;   // the same list, other marks
    evs.cam = cam;
    evs.date = date;
    try {
      // Both cameras' events (no camera asked): one list, newest first.
      const r = await fetchWithin(`/api/events?date=${encodeURIComponent(date)}`, {}, 10000);
      const d = await r.json();
      if (!r.ok) throw new Error(d.error || t("common.http", { status: r.status }));
      if (cam !== evs.cam || date !== evs.date) return;  // the user moved on meanwhile
      const sig = d.events.map((e) => `${e.id}:${e.camera}:${e.end_s}:${e.ongoing}:${e.thumbnail}:${e.video_deleted}:`
        + `${e.play ? e.play.file : ""}`).join(",");
      if (sig === evs.sig) return;
      evs.sig = sig;
      evs.list = d.events;
      renderDay();
      renderHour(hour);
      renderList();
    } catch (e) {
      $("events-list").replaceChildren(el("p", { class: "muted" }, t("events.unavailable", { why: e.message || e })));
    }
  }

  /* Whether the camera on show had motion at ``when`` (seconds of the day). */
  const movingAt = (when) => shownCamera().some((ev) => ev.start_s <= when && when <= ev.end_s);

  window.SHT.events = { load, renderHour, movingAt };
})();

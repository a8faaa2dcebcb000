/* The live view's MOTION badge: on each camera of the picture while it has an event open. */
"use strict";

(() => {
  const { $, el, fetchWithin, t } = window.SHT;
  const POLL_MS = 1000;

  const badges = {};

  function badge(cam) {
    if (!badges[cam]) {
      badges[cam] = el("span", { class: "motion-badge", "data-motion-cam": cam, hidden: true }, t("live.motion"));
      $("stage").append(badges[cam]);
    }
    return badges[cam];
  }

  /* The view on screen: the pressed view button (dual: camera 0 left, camera 1 right). */
  function shownView() {
    const b = document.querySelector('#live [data-view][aria-pressed="true"]');
    return b ? b.dataset.view : "dual";
  }

  function show(cameras) {
    const view = shownView();
    const playing = $("stage").dataset.state === "playing";
    for (const [cam, info] of Object.entries(cameras)) {
      const node = badge(cam);
      const onScreen = view === "dual" || view === cam;
      node.hidden = !(playing && onScreen && info.open);
      node.style.left = view === "dual" ? `calc(${Number(cam) * 50}% + 8px)` : "8px";
    }
  }

  async function poll() {
    if (!document.hidden && !$("live").hidden) {
      try {
        const r = await fetchWithin("/api/events/live", {}, 2000);
        if (r.ok) show((await r.json()).cameras || {});
      } catch (e) { /* the heartbeat reports an unreachable server */ }
    }
    setTimeout(poll, POLL_MS);
  }

  poll();
})();

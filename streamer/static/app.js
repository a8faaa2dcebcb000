/* SHT Dual LIVE Camera: live view, heartbeat, statistics, recording status, disk banner, tabs,
 * full screen.
 *
 * The badge says LIVE only while the server answers, every camera of the view is live and the
 * picture on screen keeps changing; offline, what the page shows is greyed as history.
 *
 * One <img> carries the MJPEG stream (one connection per browser).  A failed load is never
 * left on screen: the picture is hidden behind a message, the cause is asked from the
 * server with fetch (423 limit, 503 no picture, no answer), and the image is pointed at
 * the stream again only once that answer says it will work.
 */
"use strict";

(() => {
  const HEARTBEAT_MS = 2000;      // HEAD /stream period
  const STATUS_MS = 1500;         // /api/status period
  const HEALTH_MS = 5000;         // /api/health period (it lists the day's files)
  const ANSWER_TIMEOUT_MS = 3000; // no answer within this is OFFLINE
  const SLOW_MS = 1000;           // a HEAD slower than this, or a frame older, is DELAY
  const FROZEN_MS = 2000;         // a picture unchanged for longer is not live, whatever the server says
  const RECONNECT_FROZEN_MS = 4000; // ... and for this long, the connection is presumed dead: reconnect
  const PICTURE_MS = 500;         // how often the picture is looked at
  const VIEWS = ["dual", "0", "1"];
  const RESOLUTIONS = ["480p", "720p"];

  const $ = window.SHT.$;
  const img = $("live-img");
  const stage = $("stage");

  const state = {
    view: "dual",
    res: "480p",
    tab: "live",
    beat: "OFFLINE",
    stream: "idle",      // idle | connecting | playing | blocked | failed
    gen: 0,              // bumps on every (re)connection; stale callbacks compare and give up
    retryTimer: 0,
    status: null,
    freezeSig: "",
    changedAt: performance.now(),   // when the picture last changed (a new page: its picture has 2 s to come)
    headOk: null,        // the last heartbeat's findings: {took, age, live: [camera ids]}, null without an answer
    reconnectedAt: 0,    // performance.now() of the last (re)connection
    lastGood: 0,         // epoch s of the last status answered (the time shown on stale data)
    errorsAt: [],        // times of recent load failures, to back off from a loop
    sizes: null,         // {res: {width, height}} of one camera's picture, from /api/config
  };

  const { storage, fetchWithin, pressed, t, camName, fmtDateTime, fmtNum } = window.SHT;
  const BEATS = { LIVE: t("beat.live"), DELAY: t("beat.delay"), OFFLINE: t("beat.offline"), ERROR: t("beat.error") };
  const ms = (n) => t("unit.ms", { n: fmtNum(n) });
  const { renderStats, renderRecorders, renderDisk, renderHealth, viewName, explained } = window.SHT.panels;

  /* ---------- view, resolution and tab, kept in the URL and local storage ---------- */

  function readChoice() {
    const q = new URLSearchParams(location.search);
    const view = q.get("view") || storage.get("sht.view");
    const res = q.get("res") || storage.get("sht.res");
    const tab = location.hash === "#recordings" ? "recordings" : "live";
    return {
      view: VIEWS.includes(view) ? view : null,
      res: RESOLUTIONS.includes(res) ? res : null,
      tab,
    };
  }

  function saveChoice() {
    storage.set("sht.view", state.view);
    storage.set("sht.res", state.res);
    const q = new URLSearchParams(location.search);
    q.set("view", state.view);
    q.set("res", state.res);
    const hash = state.tab === "recordings" ? "#recordings" : "";
    history.replaceState(null, "", `${location.pathname}?${q.toString()}${hash}`);
  }

  function markButtons() {
    for (const b of document.querySelectorAll("[data-view]")) pressed(b, b.dataset.view === state.view);
    for (const b of document.querySelectorAll("#live .toolbar [data-res]")) pressed(b, b.dataset.res === state.res);
    for (const b of document.querySelectorAll("[data-tab]")) pressed(b, b.dataset.tab === state.tab);
  }

  /* ---------- the live picture ---------- */

  const streamPath = () => `/stream?view=${encodeURIComponent(state.view)}&res=${encodeURIComponent(state.res)}`;

  function setStage(kind, title = "", detail = "", offerOther = false) {
    state.stream = kind;
    stage.dataset.state = kind;
    const msg = $("stage-msg");
    msg.hidden = !title;
    $("stage-title").textContent = title;
    $("stage-detail").textContent = detail;
    const other = $("btn-other-res");
    const otherRes = state.res === "480p" ? "720p" : "480p";
    other.hidden = !offerOther;
    other.textContent = t("live.switch_res", { res: otherRes });
    other.dataset.res = otherRes;
  }

  /* A failed image is hidden (never a broken-image icon); the stage keeps the view's shape. */
  function setBroken(on) {
    stage.classList.toggle("broken", on);
    const size = state.sizes && state.sizes[state.res];
    stage.style.aspectRatio = on && size ? `${size.width * (state.view === "dual" ? 2 : 1)} / ${size.height}` : "";
  }

  /* Picture sizes are the server's (one declaration there); asked again until it answers. */
  async function loadConfig() {
    try {
      const r = await fetchWithin("/api/config");
      if (!r.ok) throw new Error(t("common.http", { status: r.status }));
      state.sizes = (await r.json()).resolutions;
      if (stage.classList.contains("broken")) setBroken(true);
    } catch (e) {
      setTimeout(loadConfig, STATUS_MS);
    }
  }

  function clearRetry() {
    if (state.retryTimer) clearTimeout(state.retryTimer);
    state.retryTimer = 0;
  }

  function disconnect() {
    clearRetry();
    state.gen += 1;
    img.onload = null;
    img.onerror = null;
    img.removeAttribute("src");  // closes the stream connection and frees the viewer slot
    window.SHT.lowdata.stop();
    setBroken(false);
    setStage("idle");
  }

  function connect() {
    if (state.tab !== "live" || document.hidden) return;
    clearRetry();
    const gen = ++state.gen;
    state.reconnectedAt = performance.now();   // a picture that stays frozen is not reconnected at once again
    markAlt();
    if (window.SHT.lowdata.active()) {
      img.onload = img.onerror = null;
      img.removeAttribute("src");  // one stream per view: the MJPEG one goes
      setStage("connecting", t("live.connecting"), t("live.detail_lowdata", { view: viewName(state.view) }));
      window.SHT.lowdata.play(state.view, (kind, title, detail) => { if (gen === state.gen) setStage(kind, title, detail); });
      return;
    }
    window.SHT.lowdata.stop();
    if (state.stream !== "playing") setStage("connecting", t("live.connecting"), `${viewName(state.view)}, ${state.res}`);
    img.onload = () => {
      if (gen !== state.gen) return;
      setBroken(false);
      img.dataset.shown = `${state.view}/${state.res}`;
      img.dataset.loads = String(Number(img.dataset.loads || 0) + 1);
      setStage("playing");
    };
    img.onerror = () => {
      if (gen !== state.gen) return;
      setBroken(true);
      diagnose(gen);
    };
    // The time parameter makes every connection a new request, never a cached picture.
    img.src = `${streamPath()}&t=${Date.now()}`;
  }

  /* Ask the server why the stream is refused, without putting a failing URL in the image. */
  async function probe() {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), ANSWER_TIMEOUT_MS);
    try {
      const r = window.SHT.loginExpired(await fetch(streamPath(),
        { cache: "no-store", headers: window.SHT.PAGE_HEADERS, signal: ctrl.signal }));
      if (r.ok) {
        ctrl.abort();  // only the answer was wanted; the image opens its own stream
        return { kind: "ok" };
      }
      let body = null;
      try { body = await r.json(); } catch (e) { body = null; }
      const kind = r.status === 423 ? "locked" : r.status === 503 ? "nosignal" : "error";
      return { kind, status: r.status, body, retryAfter: Number(r.headers.get("Retry-After")) || 0 };
    } catch (e) {
      return { kind: "offline" };
    } finally {
      clearTimeout(timer);
    }
  }

  async function diagnose(gen) {
    setStage("failed", t("live.connecting"), "");
    const now = Date.now();
    state.errorsAt = state.errorsAt.filter((t) => now - t < 10000).concat(now);
    const answer = await probe();
    if (gen !== state.gen) return;
    showAnswer(answer, gen);
  }

  function showAnswer(answer, gen) {
    if (answer.kind === "ok") {
      // Worked on a second try: reconnect, but not in a tight loop if it keeps failing.
      const delay = state.errorsAt.length > 3 ? 3000 : 200;
      state.retryTimer = setTimeout(() => { if (gen === state.gen) connect(); }, delay);
      return;
    }
    if (answer.kind === "locked") {
      const b = answer.body || {};
      const limit = b.limit != null ? b.limit : (state.status && state.status.limits
        ? state.status.limits.max_clients_per_resolution : null);
      const viewers = b.holders != null ? b.holders : b.viewers != null ? b.viewers : limit;
      const other = state.res === "480p" ? "720p" : "480p";
      setStage("blocked", t("live.limit_title", { res: state.res }), t("live.limit_detail",
        { viewers: viewers != null ? viewers : "–", limit: limit != null ? limit : "–", res: state.res, other }), true);
      // /api/status says when a slot frees (see pollStatus); this slower retry covers the rest.
      const wait = Math.max(10, Math.min(30, answer.retryAfter || 10)) * 1000;
      state.retryTimer = setTimeout(() => { if (gen === state.gen) retryBlocked(gen); }, wait);
      return;
    }
    if (answer.kind === "nosignal") {
      setStage("failed", t("live.no_picture"), explainView(state.status) || t("live.comes_back"));
      return;
    }
    if (answer.kind === "error") {
      const why = answer.body && answer.body.error ? answer.body.error : t("common.http", { status: answer.status });
      setStage("failed", t("live.unavailable"), why);
      return;
    }
    setStage("failed", t("live.unreachable"), t("live.reconnecting"));
  }

  /* Not connected, or recorded by rpicam-vid: the reason from /api/status, for the view's cameras. */
  function explainView(s) {
    const cams = (s && s.cameras) || {};
    const ids = state.view === "dual" ? Object.keys(cams).sort() : [state.view];
    return ids.map((id) => explained(cams[id]) && `${camName(id)} · ${explained(cams[id])}`).filter(Boolean).join(" ");
  }

  async function retryBlocked(gen) {
    const answer = await probe();
    if (gen !== state.gen) return;
    if (answer.kind === "ok") connect();
    else showAnswer(answer, gen);
  }

  /* A picture that stops changing while the server says LIVE is a dead connection. */
  const sampler = document.createElement("canvas");
  sampler.width = 96;
  sampler.height = 36;
  function pictureSignature() {
    if (!img.naturalWidth) return "";
    try {
      const ctx = sampler.getContext("2d", { willReadFrequently: true });
      ctx.drawImage(img, 0, 0, sampler.width, sampler.height);
      const data = ctx.getImageData(0, 0, sampler.width, sampler.height).data;
      let h = 0;
      for (let i = 0; i < data.length; i += 1) h = (Math.imul(h, 31) + data[i]) | 0;
      return String(h);
    } catch (e) {
      return "";
    }
  }

  /* When the picture on screen last changed: its signature (MJPEG) or the videos' frames (low data). */
  function watchPicture() {
    const now = performance.now();
    if (state.tab !== "live" || document.hidden) {
      state.changedAt = now;   // nobody watches: back on the live tab, the picture has its time to come
      return;
    }
    if (state.stream !== "playing") {
      judge(false);   // no picture is not live either
      return;
    }
    if (window.SHT.lowdata.active()) {
      const last = window.SHT.lowdata.lastFrameAt();
      if (last) state.changedAt = last;
    } else {
      const sig = pictureSignature();
      if (!sig || sig !== state.freezeSig) state.changedAt = now;
      state.freezeSig = sig;
    }
    judge(false);
    const still = now - Math.max(state.changedAt, state.reconnectedAt);
    if (!window.SHT.lowdata.active() && still > RECONNECT_FROZEN_MS && state.headOk) connect();
  }

  function pictureLoop() {
    watchPicture();
    setTimeout(pictureLoop, PICTURE_MS);
  }

  /* The cameras of the view that the server does not call live, by name. */
  function downCameras() {
    const ids = state.view === "dual" ? ["0", "1"] : [state.view];
    const live = state.headOk && state.headOk.live;
    return live ? ids.filter((id) => !live.includes(id)) : [];
  }

  /* LIVE only while the server answers quickly, every camera of the view is live and the picture
     on screen keeps changing (or, on the recordings tab, nobody watches it); anything less is
     DELAY, with the reason shown beside the badge. */
  function judge(beat = true) {
    const h = state.headOk;
    if (!h) return;
    const watching = state.tab === "live" && !document.hidden;
    const stillMs = watching ? performance.now() - state.changedAt : 0;
    const down = downCameras();
    let why = "";
    if (down.length) why = t("beat.down", { cams: down.map(camName).join(", ") });
    else if (stillMs > FROZEN_MS && state.stream === "playing") why = t("beat.frozen", { s: fmtNum(stillMs / 1000) });
    else if (stillMs > FROZEN_MS) why = $("stage-title").textContent || t("live.no_picture");
    const late = (h.age != null && h.age > SLOW_MS) || h.took > SLOW_MS;
    const detail = h.age != null ? t("beat.answered_age", { ms: ms(h.took), age: ms(h.age) })
      : t("beat.answered", { ms: ms(h.took) });
    setBeat(late || why ? "DELAY" : "LIVE", why ? `${why} ${detail}` : detail, why, beat);
  }

  /* ---------- heartbeat: HEAD /stream every 2 s ---------- */

  function frameAgeMs(headers) {
    for (const name of ["X-Frame-Age-Ms", "X-Frame-Age", "X-Latency-Ms"]) {
      const v = headers.get(name);
      if (v != null && v !== "" && isFinite(Number(v))) return Number(v);
    }
    return null;
  }

  /* ``beat``: called by the heartbeat (a broken stream is retried then), not by a look at the picture. */
  function setBeat(next, detail, why = "", beat = true) {
    const prev = state.beat;
    state.beat = next;
    const box = $("heartbeat");
    box.title = detail;
    if ($("beat-why").textContent !== why) $("beat-why").textContent = why;
    document.body.classList.toggle("stale", next === "OFFLINE" || next === "ERROR");
    if (next === "OFFLINE" || next === "ERROR") showStale();
    if (next !== prev) {
      box.dataset.state = next;
      box.className = `beat beat-${next.toLowerCase()}`;
      $("beat-text").textContent = BEATS[next];
    } else if (!beat) {
      return;
    }
    if (next === "OFFLINE" || next === "ERROR") {
      if (state.stream === "playing" || state.stream === "connecting") {
        setStage("failed", next === "OFFLINE" ? t("live.unreachable") : t("live.unavailable"), t("live.reconnecting"));
        state.gen += 1;  // callbacks of the dead connection are void now
      }
    } else if (state.tab === "live" && !document.hidden) {
      // The server answers again (quickly or not): a broken stream is tried again (low-data
      // videos retry by themselves: starting them again would cut their wait for a picture).
      const broken = state.stream === "idle" || (state.stream === "failed" && !window.SHT.lowdata.active());
      if (broken || prev === "OFFLINE" || prev === "ERROR") connect();
    }
  }

  async function heartbeat() {
    const started = performance.now();
    try {
      const r = await fetchWithin(streamPath(), { method: "HEAD" });
      const took = performance.now() - started;
      // The view's live cameras; an answer that does not say cannot call a camera down.
      const said = r.headers.get("X-Cameras-Live");
      const live = said == null ? null : said.split(",").filter(Boolean);
      if (r.ok) {
        state.headOk = { took, age: frameAgeMs(r.headers), live };
        judge();
      } else {
        state.headOk = null;
        setBeat("ERROR", t("beat.refused", { status: r.status }));
      }
    } catch (e) {
      state.headOk = null;
      setBeat("OFFLINE", t("beat.none"));
    }
  }

  /* Offline, what is on screen is history: greyed, with the time it was last true. */
  function showStale() {
    $("stale-note").textContent = state.lastGood
      ? t("live.stale", { time: fmtDateTime(state.lastGood) }) : t("live.stale_never");
  }

  /* The live picture's text alternative: the names of the cameras it shows. */
  function markAlt() {
    const ids = state.view === "dual" ? ["0", "1"] : [state.view];
    img.alt = t("live.alt_of", { names: ids.map(camName).join(", ") });
  }

  function heartbeatLoop() {
    heartbeat().finally(() => setTimeout(heartbeatLoop, HEARTBEAT_MS));
  }

  /* ---------- statistics, recording status and disk, from /api/status ---------- */

  async function pollStatus() {
    try {
      const r = await fetchWithin("/api/status");
      if (!r.ok) throw new Error(t("common.http", { status: r.status }));
      const s = await r.json();
      state.status = s;
      state.lastGood = s.time || Date.now() / 1000;
      window.SHT.setUtcOffset(s.utc_offset_s);
      renderStats(s, state.view, state.res);
      renderRecorders(s, pollStatus);
      renderDisk(s);
      const why = state.stream === "failed" ? explainView(s) : "";
      if (why) setStage("failed", t("live.no_picture"), why);
      $("foot").textContent = t("live.updated", { time: fmtDateTime(s.time || Date.now() / 1000) });
      // A blocked page retries as soon as a slot is free at its resolution.
      const lim = s.limits || {};
      const holders = (lim.viewers_by_res || {})[state.res];
      if (state.stream === "blocked" && holders != null && holders < lim.max_clients_per_resolution) {
        clearRetry();
        retryBlocked(state.gen);
      }
    } catch (e) {
      $("foot").textContent = t("live.status_unavailable");
      showStale();
    }
  }

  function statusLoop() {
    pollStatus().finally(() => setTimeout(statusLoop, STATUS_MS));
  }

  /* ---------- fullscreen: a tap on the picture (on one camera's tile: that camera alone) ---------- */

  /* The stage full screen; ``solo``: the one camera of a low-data tile shown alone. */
  function fullscreen(solo) {
    if (document.fullscreenElement || !stage.requestFullscreen) return;
    if (solo) stage.dataset.solo = solo;
    stage.requestFullscreen().catch(() => { delete stage.dataset.solo; });
  }

  function wireFullscreen() {
    stage.addEventListener("click", (event) => {
      if (state.stream !== "playing" || event.target.closest("button")) return;
      const tile = event.target.closest("video[data-camera]");
      fullscreen(tile ? tile.dataset.camera : "");
    });
    $("fs-enter").addEventListener("click", () => fullscreen(""));   // the same from the keyboard
    $("fs-exit").addEventListener("click", () => { if (document.fullscreenElement) document.exitFullscreen(); });
    document.addEventListener("fullscreenchange", () => {
      if (!document.fullscreenElement) delete stage.dataset.solo;
    });
  }

  /* ---------- tabs and wiring ---------- */

  function showTab(tab) {
    state.tab = tab;
    for (const panel of document.querySelectorAll("[data-tab-panel]")) panel.hidden = panel.dataset.tabPanel !== tab;
    markButtons();
    saveChoice();
    if (tab === "live") {
      window.SHT.recordings.hide();
      connect();
    } else {
      disconnect();  // the viewer slot is for someone watching
      window.SHT.recordings.show();
    }
  }

  function choose(view, res) {
    const changed = view !== state.view || res !== state.res;
    state.view = view;
    state.res = res;
    markButtons();
    saveChoice();
    if (state.status) renderStats(state.status, state.view, state.res);
    if (changed || state.stream !== "playing") connect();
  }

  function wire() {
    wireFullscreen();
    for (const b of document.querySelectorAll("#live [data-view]")) {
      b.addEventListener("click", () => choose(b.dataset.view, state.res));
    }
    for (const b of document.querySelectorAll("#live .toolbar [data-res], #btn-other-res")) {
      b.addEventListener("click", () => choose(state.view, b.dataset.res));
    }
    for (const b of document.querySelectorAll("[data-tab]")) {
      b.addEventListener("click", () => showTab(b.dataset.tab));
    }
    window.addEventListener("hashchange", () => {
      const tab = location.hash === "#recordings" ? "recordings" : "live";
      if (tab !== state.tab) showTab(tab);
    });
    document.addEventListener("visibilitychange", () => {
      // A hidden page gives its viewer slot back and takes it again when shown.
      if (state.tab !== "live") return;
      if (document.hidden) {
        disconnect();
      } else {
        state.changedAt = performance.now();   // the picture has its time to come back
        connect();
      }
    });
  }

  /* ---------- am I recording? from /api/health ---------- */

  async function pollHealth() {
    try {
      const r = await fetchWithin("/api/health", {}, 5000);
      if (r.ok) renderHealth(await r.json());
    } catch (e) { /* the status footer already says the server does not answer */ }
  }

  function healthLoop() {
    pollHealth().finally(() => setTimeout(healthLoop, HEALTH_MS));
  }

  async function start() {
    const choice = readChoice();
    // A tab pressed while the server is still asked for its default view is not lost.
    const early = (e) => { choice.tab = e.currentTarget.dataset.tab; };
    const tabs = document.querySelectorAll("[data-tab]");
    for (const b of tabs) b.addEventListener("click", early);
    if (!choice.view || !choice.res) {
      // Nothing chosen yet in this browser: the server's default view and resolution.
      try {
        const r = await fetchWithin("/api/status", {}, 1500);
        const s = r.ok ? await r.json() : null;
        const c = (s && s.controls) || {};
        choice.view = choice.view || (VIEWS.includes(c.view) ? c.view : null);
        choice.res = choice.res || (RESOLUTIONS.includes(c.resolution) ? c.resolution : null);
      } catch (e) { /* defaults below */ }
    }
    state.view = choice.view || "dual";
    state.res = choice.res || "480p";
    for (const b of tabs) b.removeEventListener("click", early);
    loadConfig();
    wire();
    window.SHT.account.init();
    window.SHT.lowdata.init(() => connect());
    window.SHT.recordings.init();
    showTab(choice.tab);
    heartbeatLoop();
    pictureLoop();
    statusLoop();
    healthLoop();
  }

  start();
})();

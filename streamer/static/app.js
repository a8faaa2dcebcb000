/* SHT Dual LIVE Camera: live view, heartbeat, statistics, recording status, disk banner, tabs.
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
  const FREEZE_BEATS = 3;         // a picture unchanged for this many LIVE beats is reconnected
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
    freezeCount: 0,
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
    state.freezeSig = "";
    state.freezeCount = 0;
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

  function watchFreeze() {
    if (state.stream !== "playing" || state.beat !== "LIVE" || window.SHT.lowdata.active()) {
      state.freezeCount = 0;
      return;
    }
    const sig = pictureSignature();
    if (sig && sig === state.freezeSig) state.freezeCount += 1;
    else state.freezeCount = 0;
    state.freezeSig = sig;
    if (state.freezeCount >= FREEZE_BEATS) connect();
  }

  /* ---------- heartbeat: HEAD /stream every 2 s ---------- */

  function frameAgeMs(headers) {
    for (const name of ["X-Frame-Age-Ms", "X-Frame-Age", "X-Latency-Ms"]) {
      const v = headers.get(name);
      if (v != null && v !== "" && isFinite(Number(v))) return Number(v);
    }
    return null;
  }

  function setBeat(next, detail) {
    const prev = state.beat;
    state.beat = next;
    const box = $("heartbeat");
    box.dataset.state = next;
    box.className = `beat beat-${next.toLowerCase()}`;
    box.title = detail;
    $("beat-text").textContent = BEATS[next];
    if (next === "OFFLINE" || next === "ERROR") {
      if (state.stream === "playing" || state.stream === "connecting") {
        setStage("failed", next === "OFFLINE" ? t("live.unreachable") : t("live.unavailable"), t("live.reconnecting"));
        state.gen += 1;  // callbacks of the dead connection are void now
      }
    } else if (next === "LIVE" && state.tab === "live" && !document.hidden) {
      const broken = state.stream === "failed" || state.stream === "idle";
      if (broken || prev === "OFFLINE" || prev === "ERROR") connect();
    }
  }

  async function heartbeat() {
    const started = performance.now();
    try {
      const r = await fetchWithin(streamPath(), { method: "HEAD" });
      const took = performance.now() - started;
      if (r.ok) {
        const age = frameAgeMs(r.headers);
        const late = (age != null && age > SLOW_MS) || took > SLOW_MS;
        setBeat(late ? "DELAY" : "LIVE", age != null ? t("beat.answered_age", { ms: ms(took), age: ms(age) })
          : t("beat.answered", { ms: ms(took) }));
      } else {
        setBeat("ERROR", t("beat.refused", { status: r.status }));
      }
    } catch (e) {
      setBeat("OFFLINE", t("beat.none"));
    }
    watchFreeze();
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
    }
  }

  function statusLoop() {
    pollStatus().finally(() => setTimeout(statusLoop, STATUS_MS));
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
      if (document.hidden) disconnect();
      else connect();
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
    loadConfig();
    wire();
    window.SHT.account.init();
    window.SHT.lowdata.init(() => connect());
    window.SHT.recordings.init();
    showTab(choice.tab);
    heartbeatLoop();
    statusLoop();
    healthLoop();
  }

  start();
})();

/* SHT Dual LIVE Camera: the "Low data" live view.
 *
 * Plays /live/{camera}.mp4 (the recorder's own H.264 in fragmented MP4) through Media
 * Source Extensions, ManagedMediaSource where that is what the browser has, one <video>
 * per camera.  Where neither exists, or the stream's codec is not supported, the switch is
 * off and the page keeps MJPEG.  Playback is kept at the live edge: a video that falls
 * behind (or meets a gap, after a recorder restart) jumps to the newest frame.
 *
 * Latency: a fragment's media time is its capture time counted from the stream's epoch
 * (header X-Capture-Epoch-Ms), so requestVideoFrameCallback's mediaTime gives the capture
 * wall-clock time of each presented frame.
 */
"use strict";

(() => {
  const MS = window.ManagedMediaSource || window.MediaSource;
  const PROBE_TYPE = 'video/mp4; codecs="avc1.42C01F"';
  const RETRY_MS = 1000;          // after a stream ended or failed
  const STALL_MS = 3000;          // no bytes for this long: reconnect
  const TARGET_S = 0.25;          // how far behind the newest frame playback stays
  const JUMP_S = 0.6;             // further than this behind (or in a gap): jump
  const STUCK_MS = 500;           // playback not moving for this long with frames ahead: jump
  const KEEP_S = 10;              // seconds of played video kept in the buffer
  const SAMPLES = 300;            // latency samples kept per camera
  const LIVE_MS = 500;            // a frame shown within this of its capture is live (join time)

  const { storage, pressed, t } = window.SHT;
  const $ = window.SHT.$;

  const supported = () => {
    try { return !!MS && MS.isTypeSupported(PROBE_TYPE); } catch (e) { return false; }
  };

  const state = { on: storage.get("sht.lowdata") === "1", players: [], onChange: null };

  class Player {
    constructor(camera, video, report) {
      this.camera = camera;
      this.video = video;
      this.report = report;     // (kind, title, detail)
      this.stopped = false;
      this.ctrl = null;
      this.timer = 0;
      this.retryTimer = 0;
      this.lastBytesAt = 0;
      this.frames = 0;
      this.presented = [];      // performance.now() of recent presented frames
      this.latencies = [];      // capture -> presented, ms
      this.epoch = 0;
      this.connects = 0;
      this.jumps = 0;           // times playback was moved to the live edge
      this.lastTime = -1;
      this.movedAt = 0;
      this.startedAt = performance.now();   // the viewer asked for the stream
      this.firstAt = 0;                     // its first picture was shown
      this.liveAt = 0;                      // its first live picture was shown
      this.watchFrames();
      this.open();
    }

    async open() {
      if (this.stopped) return;
      this.connects += 1;
      const ctrl = this.ctrl = new AbortController();
      let r;
      try {
        r = await fetch(`/live/${this.camera}.mp4?t=${Date.now()}`, { cache: "no-store", signal: ctrl.signal });
      } catch (e) {
        return this.retry("offline");
      }
      if (r.status !== 200) {
        let body = null;
        try { body = await r.json(); } catch (e) { body = null; }
        if (r.status === 423) {
          this.report("blocked", t("lowdata.limit_title"), t("lowdata.limit_detail", {
            viewers: body && body.holders != null ? body.holders : "–", limit: body && body.limit != null ? body.limit : "–" }));
          return this.retry("blocked", 10000);
        }
        this.report("failed", t("lowdata.none"), body && body.error ? body.error : t("common.http", { status: r.status }));
        return this.retry("failed", 2000);
      }
      const codec = r.headers.get("X-Codec") || "avc1.42C01F";
      const type = `video/mp4; codecs="${codec}"`;
      if (!MS.isTypeSupported(type)) {
        ctrl.abort();
        this.report("failed", t("lowdata.unsupported"), t("lowdata.unsupported_detail", { codec }));
        window.SHT.lowdata.fallback();
        return;
      }
      this.epoch = Number(r.headers.get("X-Capture-Epoch-Ms")) || 0;
      await this.play(r, type, ctrl);
    }

    async play(r, type, ctrl) {
      const ms = new MS();
      const video = this.video;
      video.disableRemotePlayback = true;  // ManagedMediaSource plays only without AirPlay
      const url = URL.createObjectURL(ms);
      video.src = url;
      await new Promise((resolve) => ms.addEventListener("sourceopen", resolve, { once: true }));
      URL.revokeObjectURL(url);
      if (this.stopped || ctrl.signal.aborted) return;
      const sb = ms.addSourceBuffer(type);
      try { ms.duration = Infinity; } catch (e) { /* a live stream has no end: players render with less delay */ }
      const reader = r.body.getReader();
      this.lastBytesAt = performance.now();
      clearInterval(this.timer);
      this.timer = setInterval(() => this.keepLive(sb, ctrl), 100);
      video.play().catch(() => {});
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done || this.stopped) break;
          this.lastBytesAt = performance.now();
          if (sb.updating) await new Promise((res) => sb.addEventListener("updateend", res, { once: true }));
          sb.appendBuffer(value);
        }
      } catch (e) {
        /* aborted, network error or a closed source buffer: reconnect below */
      }
      clearInterval(this.timer);
      if (!this.stopped) this.retry("ended");
    }

    /* Stay a little behind the newest frame: right at the edge the player runs dry at every
     * late packet and stalls; far behind is latency.  The rate nudges it back into the band,
     * a jump handles big distances and gaps (a recorder restart leaves one). */
    keepLive(sb, ctrl) {
      const v = this.video;
      if (performance.now() - this.lastBytesAt > STALL_MS) {
        ctrl.abort();  // the loop above ends and reconnects
        return;
      }
      const b = v.buffered;
      if (!b.length) return;
      const last = b.length - 1;
      const end = b.end(last);
      const behind = end - v.currentTime;
      const now = performance.now();
      if (v.currentTime !== this.lastTime) [this.lastTime, this.movedAt] = [v.currentTime, now];
      // Stuck at the edge after running dry, though newer frames have come: go and get them.
      const stuck = now - this.movedAt > STUCK_MS && behind > TARGET_S;
      if (behind > JUMP_S || stuck || v.currentTime < b.start(last)) {
        this.movedAt = now;
        v.currentTime = Math.max(b.start(last), end - TARGET_S);
        this.jumps += 1;
      } else {
        const rate = behind > TARGET_S + 0.15 ? 1.15 : behind < TARGET_S - 0.1 ? 0.9 : 1.0;
        if (v.playbackRate !== rate) v.playbackRate = rate;
      }
      if (v.paused) v.play().catch(() => {});
      if (!sb.updating && v.currentTime - b.start(0) > 2 * KEEP_S) {
        try { sb.remove(0, v.currentTime - KEEP_S); } catch (e) { /* closed */ }
      }
    }

    watchFrames() {
      const v = this.video;
      if (!v.requestVideoFrameCallback) {
        v.addEventListener("playing", () => this.report("playing"));
        return;
      }
      const onFrame = (now, meta) => {
        if (this.stopped) return;
        this.frames += 1;
        if (!this.firstAt) this.firstAt = now;
        this.presented.push(now);
        if (this.presented.length > SAMPLES) this.presented.shift();
        if (this.epoch) {
          const shownAt = performance.timeOrigin + meta.expectedDisplayTime;
          const latency = shownAt - (this.epoch + meta.mediaTime * 1000);
          this.latencies.push(latency);
          if (this.latencies.length > SAMPLES) this.latencies.shift();
          if (!this.liveAt && latency <= LIVE_MS) this.liveAt = now;
        }
        if (this.frames === 1 || this.frames % 30 === 0) this.report("playing");
        v.requestVideoFrameCallback(onFrame);
      };
      v.requestVideoFrameCallback(onFrame);
    }

    retry(why, delay = RETRY_MS) {
      if (this.stopped) return;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.open(), delay);
    }

    stop() {
      this.stopped = true;
      clearInterval(this.timer);
      clearTimeout(this.retryTimer);
      if (this.ctrl) this.ctrl.abort();
      this.video.removeAttribute("src");
      this.video.load();
    }

    stats() {
      const now = performance.now();
      const recent = this.presented.filter((t) => now - t <= 2000);
      const fps = recent.length > 1 ? (recent.length - 1) * 1000 / (recent[recent.length - 1] - recent[0]) : 0;
      const sorted = this.latencies.slice().sort((a, b) => a - b);
      const pct = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null);
      return {
        camera: this.camera, frames: this.frames, fps, connects: this.connects, jumps: this.jumps,
        dropped: this.video.getVideoPlaybackQuality ? this.video.getVideoPlaybackQuality().droppedVideoFrames : 0,
        ranges: this.video.buffered.length,
        behind: this.video.buffered.length ? this.video.buffered.end(this.video.buffered.length - 1) - this.video.currentTime : 0,
        width: this.video.videoWidth, height: this.video.videoHeight, currentTime: this.video.currentTime,
        latencyP50: pct(0.5), latencyP99: pct(0.99), samples: sorted.length,
        joinMs: this.firstAt ? this.firstAt - this.startedAt : null,
        liveMs: this.liveAt ? this.liveAt - this.startedAt : null,
      };
    }
  }

  function box() { return $("low-videos"); }

  function stop() {
    for (const p of state.players) p.stop();
    state.players = [];
    const b = box();
    b.replaceChildren();
    b.hidden = true;
    $("stage").classList.remove("lowdata");
  }

  /* Play the cameras of ``view``; ``report(kind, title, detail)`` drives the page's stage. */
  function play(view, report) {
    stop();
    const cams = view === "dual" ? [0, 1] : [Number(view)];
    const b = box();
    b.hidden = false;
    $("stage").classList.add("lowdata");
    b.dataset.count = String(cams.length);
    let playing = 0;
    for (const cam of cams) {
      const video = document.createElement("video");
      video.muted = true;
      video.playsInline = true;
      video.autoplay = true;
      video.id = `low-video-${cam}`;
      b.appendChild(video);
      let counted = false;
      state.players.push(new Player(cam, video, (kind, title, detail) => {
        if (kind === "playing") {
          if (!counted) { counted = true; playing += 1; }
          if (playing === cams.length) report("playing");
        } else {
          report(kind, title, detail);
        }
      }));
    }
  }

  function markButton() {
    const btn = $("btn-lowdata");
    const ok = supported();
    btn.disabled = !ok;
    btn.title = ok ? t("lowdata.title_on") : t("lowdata.title_off");
    pressed(btn, active());
  }

  function active() { return state.on && supported(); }

  function toggle() {
    state.on = !state.on;
    storage.set("sht.lowdata", state.on ? "1" : "0");
    markButton();
    if (state.onChange) state.onChange();
  }

  /* The stream turned out unplayable here: back to MJPEG for this page. */
  function fallback() {
    state.on = false;
    markButton();
    setTimeout(() => { if (state.onChange) state.onChange(); }, 0);
  }

  function init(onChange) {
    state.onChange = onChange;
    $("btn-lowdata").addEventListener("click", toggle);
    markButton();
  }

  window.SHT.lowdata = {
    init, active, play, stop, fallback, supported,
    stats: () => state.players.map((p) => p.stats()),
  };
})();

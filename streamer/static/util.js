/* Helpers shared by the live view (app.js) and the recordings browser (recordings.js). */
"use strict";

window.SHT = window.SHT || {};

(() => {
  const storage = {
    get(key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } },
    set(key, value) { try { window.localStorage.setItem(key, value); } catch (e) { /* private mode */ } },
  };

  function fmtBytes(n) {
    if (n == null || !isFinite(n)) return "–";
    const units = ["B", "kB", "MB", "GB", "TB"];
    let i = 0;
    while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
    return `${n.toFixed(i === 0 || n >= 100 ? 0 : 1)} ${units[i]}`;
  }
  const fmtNum = (n, digits = 0) => (n == null || !isFinite(n) ? "–" : Number(n).toFixed(digits));
  const pad = (n) => String(Math.floor(n)).padStart(2, "0");
  const fmtClock = (s) => `${pad(s / 3600)}:${pad((s % 3600) / 60)}:${pad(s % 60)}`;
  const fmtDay = (d) => (d && d.length === 6 ? `20${d.slice(0, 2)}-${d.slice(2, 4)}-${d.slice(4, 6)}` : d || "–");

  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-") || k.startsWith("aria-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    if (text != null) node.textContent = text;
    return node;
  }

  /* The page's own requests say so: a 401 then opens the login page, not the browser's prompt. */
  const PAGE_HEADERS = { "X-SHT-Page": "1" };

  function loginExpired(r) {
    if (r.status === 401) location.replace("/login");
    return r;
  }

  /* fetch that gives up after ``ms``: an unanswered request must not hang the page's loops. */
  async function fetchWithin(url, options = {}, ms = 3000) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), ms);
    try {
      const headers = { ...PAGE_HEADERS, ...(options.headers || {}) };
      return loginExpired(await fetch(url, { cache: "no-store", ...options, headers, signal: ctrl.signal }));
    } finally {
      clearTimeout(timer);
    }
  }

  function pressed(button, on) {
    button.classList.toggle("active", on);
    button.setAttribute("aria-pressed", String(on));
  }

  Object.assign(window.SHT, {
    $: (id) => document.getElementById(id),
    storage, fmtBytes, fmtNum, pad, fmtClock, fmtDay, el, fetchWithin, pressed, PAGE_HEADERS, loginExpired,
  });
})();

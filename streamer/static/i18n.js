/* The page's words and times: the message catalogue of the page's language (served inside the
 * page as data), camera names from the configuration, the one date-time form in the cameras'
 * time zone, and the language switch (a cookie the server reads). */
"use strict";

window.SHT = window.SHT || {};

(() => {
  const data = JSON.parse(document.getElementById("page-data").textContent);
  const PLACEHOLDER = new RegExp(data.placeholder, "g");
  const LANG_COOKIE_DAYS = 400;
  let offsetS = Number(data.utc_offset_s) || 0;

  /* The message ``key`` with its {parameters} filled in (a missing key shows as itself). */
  function t(key, params = {}) {
    const message = data.messages[key];
    if (message == null) return key;
    return message.replace(PLACEHOLDER, (whole, name) => (params[name] != null ? String(params[name]) : whole));
  }

  const camName = (id) => (data.cameras && data.cameras[id]) || t("camera.default", { n: id });

  const two = (n) => String(n).padStart(2, "0");
  /* A Date whose UTC fields are the cameras' wall clock at ``epochS`` (read them with getUTC*). */
  const cameraClock = (epochS) => new Date((Number(epochS) + offsetS) * 1000);

  /* "2026-12-04 13:47:05" (or "13:47:05" without the date) in the cameras' time zone. */
  function fmtDateTime(epochS, withDate = true) {
    if (epochS == null || !isFinite(epochS)) return "–";
    const d = cameraClock(epochS);
    const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
    return withDate ? `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${time}` : time;
  }

  /* The server's status says its offset now (a daylight-saving change moves it). */
  function setUtcOffset(s) {
    if (s != null && isFinite(s)) offsetS = Number(s);
  }

  function wireSwitch() {
    for (const b of document.querySelectorAll("[data-lang]")) {
      const on = b.dataset.lang === data.lang;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", String(on));
      b.addEventListener("click", () => {
        document.cookie = `lang=${b.dataset.lang}; path=/; max-age=${LANG_COOKIE_DAYS * 86400}; samesite=strict`;
        location.reload();
      });
    }
  }

  wireSwitch();
  Object.assign(window.SHT, { lang: data.lang, t, camName, fmtDateTime, cameraClock, setUtcOffset });
})();

/* The login form: posts the user name and password, then opens the live page. */
"use strict";

(() => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const { t } = window.SHT;

  function say(text) {
    error.textContent = text;
    error.hidden = !text;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("login-submit");
    button.disabled = true;
    say("");
    try {
      const r = await fetch("/login", {
        method: "POST", cache: "no-store", headers: { "Content-Type": "application/json", "X-SHT-Page": "1" },
        body: JSON.stringify({ user: form.user.value, password: form.password.value }),
      });
      if (r.ok) {
        location.replace("/");
        return;
      }
      let body = {};
      try { body = await r.json(); } catch (e) { body = {}; }
      if (r.status === 429) say(t("login.too_many", { s: t("unit.s", { n: body.retry_after_s || 60 }) }));
      else if (r.status === 401) say(t("login.wrong"));
      else say(body.error || t("common.http", { status: r.status }));
    } catch (e) {
      say(t("login.no_server"));
    } finally {
      button.disabled = false;
    }
  });
})();

/* Who is using the page: the logged-in user and a log-out button, or, with no account
   defined, how to add an admin.  Controls are enabled only for those who may use them. */
"use strict";

(() => {
  const { $, el, fetchWithin } = window.SHT;
  let session = null;

  function render() {
    const box = $("account");
    if (!session) { box.replaceChildren(); return; }
    if (session.accounts) {
      const out = el("button", { type: "button", class: "btn small", id: "logout" }, "Log out");
      out.addEventListener("click", logout);
      box.replaceChildren(el("span", { id: "account-user" }, `${session.user} (${session.role})`), out);
      return;
    }
    const says = session.only_this_machine
      ? "No account yet, and the allowed networks reach beyond this home: only this machine may connect until an admin is added: "
      : "No account yet: anyone on the network can watch; settings change only from this machine. Add an admin: ";
    box.replaceChildren(el("span", { id: "no-account", class: "muted" }, says), el("code", {}, session.add_admin));
  }

  async function logout() {
    try {
      await fetchWithin("/logout", { method: "POST" });
    } finally {
      location.replace("/login");
    }
  }

  async function init() {
    try {
      const r = await fetchWithin("/api/session");
      session = r.ok ? await r.json() : null;
    } catch (e) { session = null; }
    render();
  }

  window.SHT.account = {
    init,
    canControl: () => !session || session.can_control,
    controlHint: () => (session && session.accounts
      ? "Only an admin can pause or resume recording."
      : "Without an account, recording can be paused only from the camera machine itself."),
  };
})();

/* Who is using the page: the logged-in user and a log-out button, or, with no account
   defined, how to add an admin.  Controls are enabled only for those who may use them. */
"use strict";

(() => {
  const { $, el, fetchWithin, t } = window.SHT;
  let session = null;
  const ROLES = { admin: t("role.admin"), viewer: t("role.viewer") };

  function render() {
    const box = $("account");
    if (!session) { box.replaceChildren(); return; }
    if (session.accounts) {
      const out = el("button", { type: "button", class: "btn small", id: "logout" }, t("account.logout"));
      out.addEventListener("click", logout);
      box.replaceChildren(el("span", { id: "account-user" }, t("account.user", { user: session.user, role: ROLES[session.role] || session.role })), out);
      return;
    }
    const says = session.only_this_machine
      ? t("account.local_only") : t("account.open");
    // The command is typed as it is, in any language.
    box.replaceChildren(el("span", { id: "no-account", class: "muted" }, `${says} `),
      el("code", { translate: false, lang: "en" }, session.add_admin));
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
      ? t("account.admin_only") : t("account.machine_only")),
  };
})();

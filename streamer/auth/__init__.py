"""Who may reach the streamer and what they may do: access control, accounts, logins, limits.

What the rest of the streamer uses: the :class:`AccessControl` middleware and its
:class:`Guard`, a request's checked :func:`identity`, the login routes (``login_router``),
the audit trail (:data:`audit_log`, :func:`attach_audit`, and :func:`audit_action` for a
control action), the accounts for ``python -m streamer.users``, the per-client
:class:`RateLimit`, whose tables every worker shares (:func:`limit_file`,
:func:`remove_limit_files`), the request-body limits (:class:`BodyLimit`) and the headers
every answer carries (:class:`BrowserPolicy`).
"""
from streamer.auth.access import AccessControl, Guard, Identity, identity
from streamer.auth.accounts import ROLES, UserError, Users, check_name
from streamer.auth.audit import attach as attach_audit
from streamer.auth.audit import audit_action, audit_log
from streamer.auth.bodies import BodyLimit
from streamer.auth.headers import BrowserPolicy
from streamer.auth.limits import RateLimit, client_key, limit_file, remove_limit_files
from streamer.auth.login import router as login_router

__all__ = [
           "ROLES",
           "AccessControl",
           "BodyLimit",
           "BrowserPolicy",
           "Guard",
           "Identity",
           "RateLimit",
           "UserError",
           "Users",
           "attach_audit",
           "audit_action",
           "audit_log",
           "check_name",
           "client_key",
           "identity",
           "limit_file",
           "login_router",
           "remove_limit_files",
]

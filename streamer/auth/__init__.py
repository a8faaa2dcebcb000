"""Who may reach the streamer and what they may do: access control, accounts, logins, limits.

What the rest of the streamer uses: the :class:`AccessControl` middleware and its
:class:`Guard`, a request's checked :func:`identity`, the login routes (``login_router``),
the accounts for ``python -m streamer.users``, the per-address :class:`RateLimit`, the
request-body limits (:class:`BodyLimit`), the headers every answer carries
(:class:`BrowserPolicy`) and the audit trail (:data:`audit_log`, :func:`attach_audit`).
"""
from streamer.auth.access import AccessControl, Guard, Identity, identity
from streamer.auth.accounts import ROLES, UserError, Users, check_name
from streamer.auth.audit import attach as attach_audit
from streamer.auth.audit import audit_log
from streamer.auth.bodies import BodyLimit
from streamer.auth.headers import BrowserPolicy
from streamer.auth.limits import RateLimit
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
           "audit_log",
           "check_name",
           "identity",
           "login_router",
]

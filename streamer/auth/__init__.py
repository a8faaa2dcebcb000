"""Who may reach the streamer and what they may do: access control, accounts, logins, limits.

What the rest of the streamer uses: the :class:`AccessControl` middleware and its
:class:`Guard`, a request's checked :func:`identity`, the login routes (``login_router``),
the audit line (:func:`audit_action`), the accounts for ``python -m streamer.users``, and the
per-address :class:`RateLimit`.
"""
from streamer.auth.access import AccessControl, Guard, Identity, identity
from streamer.auth.accounts import ROLES, UserError, Users, check_name
from streamer.auth.audit import audit_action
from streamer.auth.limits import RateLimit
from streamer.auth.login import router as login_router

__all__ = [
           "ROLES",
           "AccessControl",
           "Guard",
           "Identity",
           "RateLimit",
           "UserError",
           "Users",
           "audit_action",
           "check_name",
           "identity",
           "login_router",
]

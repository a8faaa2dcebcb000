"""Who may reach the streamer and what they may do: one ASGI middleware in front of every route.

In order, before any other work: the source address must be in ``security.allow`` (403),
the ``Host`` header must name this machine (421, against DNS rebinding), a state-changing
request must come from this server's own origin (403, against other web pages), and then
the client must be logged in when accounts exist (a session cookie, or HTTP Basic for
scripts; 401), with the admin role for a state-changing request (403).  With no account,
anyone allowed may watch and only this machine may change anything; when
``security.allow`` also lets in networks beyond the private ranges, only this machine may
connect at all until an account exists (never open to the internet by default).

The address, user and role go into ``scope["state"]`` for the routes (``identity()``).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import os
import socket
import time
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.config import Config
from common.config.sections import DEFAULT_ALLOW
from common.i18n import DEFAULT, text
from streamer.auth.accounts import User, UserError, Users, check_name
from streamer.auth.limits import Attempt, LoginFailures, RateLimit, client_key, limit_file
from streamer.auth.logouts import Logouts
from streamer.auth.middleware import HttpMiddleware
from streamer.auth.sessions import COOKIE, Sessions, Token, fingerprint, load_secret
from streamer.errors import error_response
from streamer.language import raw_language
from streamer.server import BUSY, provisional

log = logging.getLogger("streamer")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/login", "/logout", "/api/session"})   # reachable without a login
PUBLIC_PREFIXES = ("/static/",)                                     # the page's code and style
PAGE_HEADER = b"x-sht-page"     # the page's own requests: a 401 must not raise the browser's prompt
REALM = 'Basic realm="SHT Dual LIVE Camera", charset="UTF-8"'
BASIC_CACHE_S = 60.0            # a checked Basic header is trusted this long (scrypt is slow on purpose)
SCRYPT_AT_ONCE = 2              # password checks in flight (each takes 16 MiB)
BASIC_CACHE_KEYS = 1024
ADD_ADMIN = "python -m streamer.users add NAME --role admin"


@dataclass(frozen=True)
class Identity:
    address: str
    user: str | None      # None: nobody logged in (no accounts exist)
    role: str             # "admin" | "viewer"

    def label(self) -> str:
        return self.user or "anonymous"


def identity(conn: HTTPConnection) -> Identity:
    """The checked identity of a request (set by :class:`AccessControl`)."""
    found = conn.scope.get("state", {}).get("identity")
    if isinstance(found, Identity):
        return found
    host = conn.client.host if conn.client else "unknown"
    return Identity(host, None, "viewer")


def _networks(cidrs: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    # An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _inside(addr: Any, networks: list[Any]) -> bool:
    return addr is not None and any(addr.version == n.version and addr in n for n in networks)


def public_networks(allow: list[str]) -> list[str]:
    """The networks of ``allow`` that reach beyond loopback and the private ranges."""
    private = _networks(DEFAULT_ALLOW)
    return [cidr for cidr, net in zip(allow, _networks(allow))
            if not any(net.version == p.version and net.subnet_of(p) for p in private)]  # type: ignore[arg-type]


def account_key(name: str) -> str:
    """The unit an account is counted by: its name, or one for all names no account can have."""
    try:
        return "user " + check_name(name)
    except UserError:
        return "user (not a user name)"


def too_many_logins(wait: float, lang: str) -> Response:
    retry = max(1, round(wait))
    return error_response(429, "too_many_logins", lang, {"Retry-After": str(retry)}, retry_after_s=retry)


def split_host(host: str) -> str:
    """The name or address part of a ``Host`` header, without port or brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


LOCALHOST = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})


def own_names(hostname: str) -> set[str]:
    """The names this machine answers to: localhost, its host name and its mDNS name.

    Only its own ``<host>.local``: any other ``.local`` name may be answered by anyone on
    the LAN (mDNS has no owner), which would let a web page rebind it to this machine.
    """
    short = hostname.lower().rstrip(".").split(".", 1)[0]
    return {"localhost", hostname.lower().rstrip("."), short, f"{short}.local"} - {""}


class Guard:
    """The access rules and their state (accounts, session secret, failure counts) of one worker."""

    def __init__(self, cfg: Config) -> None:
        sec = cfg.security
        self.allow = _networks(sec.allow)
        self.proxies = _networks(sec.trusted_proxies)
        self.hosts = {h.lower().rstrip(".") for h in sec.hosts}
        self.own_names = own_names(socket.gethostname())
        self.users = Users(cfg.run_dir)
        try:
            secret = load_secret(cfg.run_dir)
        except OSError as exc:
            # Still serve: logins then last until this worker restarts.
            log.error("session secret %s/session.key: %s; using a temporary one", cfg.run_dir, exc)
            secret = os.urandom(32)
        self.sessions = Sessions(secret)
        self.logouts = Logouts(cfg.run_dir)
        self.failures = LoginFailures(limit_file(cfg, "logins"))
        self._refusal_log = RateLimit(rate=1 / 60, burst=1)   # one log line per address a minute
        self._basic: dict[str, tuple[str, str, float]] = {}    # digest -> (user, fingerprint, until)
        self._scrypt = asyncio.Semaphore(SCRYPT_AT_ONCE)
        self.public = public_networks(sec.allow)
        if self.public and not self.users.any():
            log.warning("%s", self.public_refusal())

    def public_refusal(self, lang: str = DEFAULT) -> str:
        return text(lang, "error.public_no_account", networks=", ".join(self.public), how=ADD_ADMIN)

    # -- the rules ---------------------------------------------------------------------------
    def address(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        """The client: the socket's peer, or the forwarded-for address a trusted proxy names."""
        client = scope.get("client")
        peer = client[0] if client else ""
        if not self.proxies or not _inside(_ip(peer), self.proxies):
            return peer
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        for hop in reversed(hops):
            if not _inside(_ip(hop), self.proxies):
                return hop
        return peer

    def allowed(self, address: str) -> bool:
        return _inside(_ip(address), self.allow)

    def is_proxy(self, address: str) -> bool:
        """A trusted reverse proxy (it carries many clients: no per-address connection cap)."""
        return bool(self.proxies) and _inside(_ip(address), self.proxies)

    @staticmethod
    def is_local(address: str) -> bool:
        """This machine's own browser, at localhost (it may use the connections kept in reserve).

        Only 127.0.0.1 and ::1, where ``localhost`` leads: the rest of 127/8 is this machine
        too, but a browser never comes from there.
        """
        return address in LOCALHOST

    def host_ok(self, host: str) -> bool:
        name = split_host(host)
        if not name:
            return False
        if _ip(name) is not None or name in self.own_names:
            return True
        return name in self.hosts or any(h.startswith("*.") and name.endswith(h[1:]) for h in self.hosts)

    def same_origin(self, scope: Scope, headers: dict[bytes, bytes], from_proxy: bool) -> bool:
        """A state-changing request must name this server as its origin (or carry neither header)."""
        origin = headers.get(b"origin")
        if origin is None:
            origin = headers.get(b"referer")
            if origin is None:
                return True   # not a browser's cross-site request: browsers send Origin on every POST
        try:
            parts = urlsplit(origin.decode("latin-1"))
        except ValueError:
            return False
        host = headers.get(b"host", b"").decode("latin-1").strip().lower()
        schemes = {scope.get("scheme", "http")}
        if from_proxy:
            schemes.add(headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower())
        return bool(host) and parts.scheme in schemes and parts.netloc.lower() == host

    def log_refusal(self, address: str, message: str) -> None:
        if self._refusal_log.take(address) == 0:
            log.warning("%s (further refusals of %s are logged once a minute)", message, address)

    # -- who is it -----------------------------------------------------------------------------
    def session_of(self, headers: dict[bytes, bytes]) -> Token | None:
        """The valid, unexpired session token of a request's cookie, if it carries one."""
        raw = headers.get(b"cookie")
        if not raw:
            return None
        try:
            jar = SimpleCookie(raw.decode("latin-1"))
        except CookieError:
            return None
        morsel = jar.get(COOKIE)
        return self.sessions.read(morsel.value) if morsel is not None else None

    def from_cookie(self, headers: dict[bytes, bytes]) -> User | None:
        token = self.session_of(headers)
        if token is None:
            return None
        user = self.users.get(token.user)
        if user is None or fingerprint(user.hash) != token.fingerprint or self.logouts.ended(token):
            return None
        return user

    async def check_password(self, name: str, password: str) -> User | None:
        async with self._scrypt:
            return await asyncio.to_thread(self.users.check, name, password)

    def login_wait(self, address: str) -> float:
        """Seconds before this client may try a password again (0: now)."""
        return self.failures.blocked_for("client " + client_key(address))

    async def log_in(self, address: str, name: str, password: str) -> tuple[User | None, float]:
        """(the user, 0) for a right password; (None, 0) for a wrong one; (None, seconds to
        wait) when the client or the account has had its checks for now.

        The check is counted before it runs, against the client and against the account
        (guessed from many addresses), so no burst gets past the limits while scrypt works.
        """
        keys = ("client " + client_key(address), account_key(name))
        attempt: Attempt = self.failures.reserve(keys)
        if attempt.wait > 0:
            return None, attempt.wait
        user = await self.check_password(name, password)
        if user is None:
            self._login_failed(address, name, self.failures.failed(keys))
            return None, 0.0
        # A right password is no failure of its client, and clears only its own account:
        # a viewer's good login must not wipe the count of its guesses at another account.
        self.failures.release(keys[0], attempt.at)
        self.failures.clear(keys[1])
        return user, 0.0

    async def from_basic(self, address: str, value: bytes) -> tuple[User | None, float]:
        """The user of an ``Authorization: Basic`` header and the seconds to wait, as :meth:`log_in`."""
        digest = hmac.new(self.sessions.secret, value, hashlib.sha256).hexdigest()
        now = time.monotonic()
        cached = self._basic.get(digest)
        if cached is not None and cached[2] > now:
            user = self.users.get(cached[0])
            if user is not None and fingerprint(user.hash) == cached[1]:
                # Trusted while in use: a script keeps working while others guess at its account.
                self._basic[digest] = (*cached[:2], now + BASIC_CACHE_S)
                return user, 0.0
        try:
            name, _, password = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, 0.0
        user, wait = await self.log_in(address, name, password)
        if user is not None:
            if len(self._basic) >= BASIC_CACHE_KEYS:
                self._basic.clear()
            self._basic[digest] = (user.name, fingerprint(user.hash), now + BASIC_CACHE_S)
        return user, wait

    def _login_failed(self, address: str, name: str, blocked: list[str]) -> None:
        f = self.failures
        if any(key.startswith("client ") for key in blocked):
            log.warning("login: %d failed attempts from %s within %g s (last as %r): refused for %g s",
                        f.limit, address, f.window, name[:64], f.block)
        if any(key.startswith("user ") for key in blocked):
            log.warning("login: %d failed attempts as %r within %g s (last from %s): its logins refused for %g s",
                        f.limit, name[:64], f.window, address, f.block)
        if not blocked:
            log.info("login: wrong user name or password from %s (as %r)", address, name[:64])


def _loopback(address: str) -> bool:
    ip = _ip(address)
    return ip is not None and ip.is_loopback


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _closing(send: Send) -> Send:
    """``send`` with ``Connection: close`` added to the answer."""
    async def closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
        await send(message)
    return closing


class AccessControl(HttpMiddleware):
    """No wrapping of ``send`` for a request let through: streams pay nothing per frame."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        super().__init__(app)
        self.guard = guard

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = await self._check(scope)
        if provisional(scope.get("client")) and identity(HTTPConnection(scope)).role != "admin":
            # A connection from the reserve kept for this machine and the admins: anyone else
            # may only reach the login, and the connection ends with the answer.
            send = _closing(send)
            if refusal is None and not _public(scope["path"]):
                retry = BUSY["retry_after_s"]
                refusal = error_response(503, "server_busy", raw_language(scope.get("headers") or []),
                                         {"Retry-After": str(retry)}, retry_after_s=retry)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope) -> Response | None:
        g = self.guard
        headers = dict(scope.get("headers") or [])
        lang = raw_language(scope.get("headers") or [])
        client = scope.get("client")
        from_proxy = bool(g.proxies and client and _inside(_ip(client[0]), g.proxies))
        address = g.address(scope, headers)
        if not g.allowed(address):
            g.log_refusal(address, f"refused {address}: not in security.allow")
            return error_response(403, "address_refused", lang, address=address, setting="security.allow")
        host = headers.get(b"host", b"").decode("latin-1")
        if not g.host_ok(host):
            g.log_refusal(address, f"refused {address}: Host {host[:100]!r} is not this machine's name")
            if not host.strip():
                return error_response(400, "no_host", lang, setting="security.hosts")
            return error_response(421, "unknown_host", lang, host=host[:100], setting="security.hosts")
        method, path = scope["method"], scope["path"]
        unsafe = method not in SAFE_METHODS
        if unsafe and not g.same_origin(scope, headers, from_proxy):
            g.log_refusal(address, f"refused a cross-site {method} {path[:100]} from {address}")
            return error_response(403, "cross_site", lang)
        public = _public(path)
        state = scope.setdefault("state", {})
        if not g.users.any():
            state["identity"] = Identity(address, None, "admin" if _loopback(address) else "viewer")
            # A loopback request relaying someone else's (a proxy not in trusted_proxies) is not this machine.
            relayed = b"x-forwarded-for" in headers or b"forwarded" in headers
            if g.public and (relayed or not _loopback(address)):
                g.log_refusal(address, f"refused {address}: {g.public_refusal()}")
                return error_response(403, "public_no_account", lang, say={"networks": ", ".join(g.public)},
                                      how=ADD_ADMIN, setting="security.allow")
            if unsafe and not public and not _loopback(address):
                return error_response(403, "no_account", lang, how=ADD_ADMIN)
            return None
        user = g.from_cookie(headers)
        auth = headers.get(b"authorization", b"")
        if user is None and auth[:6].lower() == b"basic ":
            wait = g.login_wait(address)
            if wait <= 0:
                user, wait = await g.from_basic(address, auth)
            if wait > 0:
                return too_many_logins(wait, lang)
            if user is None:
                return error_response(401, "wrong_password", lang, {"WWW-Authenticate": REALM})
        if user is None:
            state["identity"] = Identity(address, None, "viewer")
            if public:
                return None
            if path == "/" and method in ("GET", "HEAD"):
                return RedirectResponse("/login", status_code=303)
            # Our own page goes to its login form instead of the browser's password prompt.
            own_page = headers.get(PAGE_HEADER) or headers.get(b"sec-fetch-site") == b"same-origin"
            extra = {} if own_page else {"WWW-Authenticate": REALM}
            return error_response(401, "login_required", lang, extra, login="/login")
        state["identity"] = Identity(address, user.name, user.role)
        if unsafe and not public and not user.is_admin:
            return error_response(403, "admin_only", lang, say={"user": user.name}, role=user.role)
        return None

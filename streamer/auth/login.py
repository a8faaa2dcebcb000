"""The login page and its routes: log in (a session cookie), log out, and who am I."""
from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from streamer import pages
from streamer.auth.access import ADD_ADMIN, Guard, identity, too_many_logins
from streamer.auth.audit import audit_log
from streamer.auth.sessions import COOKIE, LIFETIME_S
from streamer.errors import error_response
from streamer.language import language_of

router = APIRouter()
MAX_BODY = 4096


def _guard(request: Request) -> Guard:
    guard: Guard = request.app.state.guard
    return guard


def _secure(request: Request) -> bool:
    """Mark the cookie Secure when the browser reached us over TLS (directly or via a proxy)."""
    proto = request.headers.get("x-forwarded-proto", "") if _guard(request).proxies else ""
    return request.url.scheme == "https" or proto.lower() == "https"


@router.get("/login", include_in_schema=False)
async def login_page(request: Request) -> Response:
    if not _guard(request).users.any():
        return RedirectResponse("/", status_code=303)
    return pages.page("login", request)


async def _credentials(request: Request) -> tuple[str, str] | None:
    body = await request.body()
    if len(body) > MAX_BODY:
        return None
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            doc = json.loads(body)
            user, password = doc.get("user"), doc.get("password")
        else:
            form = parse_qs(body.decode("utf-8"), max_num_fields=4)
            user, password = form.get("user", [None])[0], form.get("password", [None])[0]
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    if not isinstance(user, str) or not isinstance(password, str):
        return None
    return user, password


@router.post("/login")
async def login(request: Request) -> Response:
    guard, who, lang = _guard(request), identity(request), language_of(request.headers)
    wait = guard.login_wait(who.address)
    if wait > 0:
        return too_many_logins(wait, lang)
    creds = await _credentials(request)
    if creds is None:
        return error_response(400, "credentials_missing", lang, field="user")
    user, wait = await guard.log_in(who.address, *creds)
    if wait > 0:
        return too_many_logins(wait, lang)
    if user is None:
        return error_response(401, "wrong_password", lang)
    audit_log.info("login: %s (%s) from %s", user.name, user.role, who.address, extra={"cause": user.name})
    response = JSONResponse({"user": user.name, "role": user.role})
    response.set_cookie(COOKIE, guard.sessions.issue(user.name, user.hash), max_age=LIFETIME_S, path="/",
                        httponly=True, samesite="strict", secure=_secure(request))
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End this session on the server (a saved copy of the cookie stops working too) and clear the cookie."""
    guard, who = _guard(request), identity(request)
    if who.user is not None:
        audit_log.info("logout: %s from %s", who.user, who.address, extra={"cause": who.user})
    token = guard.session_of(dict(request.scope["headers"]))
    if token is not None:
        await asyncio.to_thread(guard.logouts.end, token, list(guard.users.all()))
    response = JSONResponse({"user": None})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


@router.get("/api/session")
async def session(request: Request) -> dict[str, Any]:
    """Who this request is, and whether it may change settings (for the page)."""
    guard, who = _guard(request), identity(request)
    accounts = guard.users.any()
    return {"accounts": accounts, "user": who.user, "role": who.role, "address": who.address,
            "can_control": who.role == "admin", "add_admin": None if accounts else ADD_ADMIN,
            "only_this_machine": None if accounts or not guard.public
            else guard.public_refusal(language_of(request.headers))}

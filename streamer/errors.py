"""Every refusal's JSON body: a stable English ``code`` beside the ``error`` text in the
request's language (catalogue key ``error.<code>``), with the fields that say more.

``fields`` go into the body and fill the message; ``say`` only fills the message (a value
shown in another form than the body's, such as a list joined with commas).
"""
from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from common.i18n import DEFAULT, text
from streamer.language import language_headers


def error_body(code: str, lang: str = DEFAULT, say: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {"code": code, "error": text(lang, f"error.{code}", **{**fields, **(say or {})}), **fields}


def error_response(status: int, code: str, lang: str = DEFAULT, headers: dict[str, str] | None = None,
                   say: dict[str, Any] | None = None, **fields: Any) -> JSONResponse:
    return JSONResponse(error_body(code, lang, say, **fields), status_code=status,
                        headers={**language_headers(lang), **(headers or {})})


def not_found(reason: str, lang: str = DEFAULT, **fields: Any) -> JSONResponse:
    """A 404: ``error`` "not found", ``reason`` why in ``lang`` (key ``error.<reason>``), and
    ``reason_code`` the reason's key."""
    return error_response(404, "not_found", lang, reason_code=reason, reason=text(lang, f"error.{reason}", **fields),
                          **fields)

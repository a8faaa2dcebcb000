"""The remote as the page names it: which remote and where, never its secrets.

An rclone remote path is ``name:path``, ``name,key=value,...:path`` or ``:backend,key=value,...:path``
(values may be quoted, with ``'`` or ``"``, when they hold a comma or a colon).  Its parameters
can carry a password, an access key or a key file, so the label keeps the name or backend, the
host (``host=``, or the address of ``url=`` or ``endpoint=`` without its user part) and the path only.
"""
from __future__ import annotations

from urllib.parse import urlsplit

SHOWN = ("host", "url", "endpoint")   # the parameters that say where (a URL's user part is cut)
URLS = ("url", "endpoint")


def _split_unquoted(text: str, sep: str, limit: int = -1) -> list[str]:
    """``text`` split at ``sep`` outside quotes (at most ``limit`` splits; -1: all)."""
    parts, start, quote = [], 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == sep and limit != 0:
            parts.append(text[start:i])
            start = i + 1
            limit -= 1
    parts.append(text[start:])
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1].replace(value[0] * 2, value[0])
    return value


def _where(key: str, value: str) -> str:
    if key not in URLS:
        return value
    url = urlsplit(value)
    return f"{url.scheme}://{url.hostname or ''}{f':{url.port}' if url.port else ''}{url.path}"


def remote_label(remote: str) -> str:
    """``remote`` without any parameter but its host (``:sftp,host=nas.local:cctv``)."""
    lead = ":" if remote.startswith(":") else ""
    config_path = _split_unquoted(remote[len(lead):], ":", 1)
    if len(config_path) == 1:
        return remote          # a local path: no remote, no parameters
    config, path = config_path
    name, *params = _split_unquoted(config, ",")
    shown = []
    for param in params:
        key, _, value = param.partition("=")
        if key.strip() in SHOWN:
            shown.append(f"{key.strip()}={_where(key.strip(), _unquote(value.strip()))}")
    return f"{lead}{','.join([name, *shown])}:{path}"

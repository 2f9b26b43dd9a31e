"""Who may use the server: the token, the Host and Origin checks, the headers of every response.

- Without a token (only on a loopback address), requests must name a loopback host (`Host: 127.0.0.1:PORT`,
  `localhost`, `[::1]`): a page of another site whose name resolves to 127.0.0.1 (DNS rebinding) is refused.
- With a token, every request carries it: `?token=` in the URL the server prints (the page then moves it out of
  the address bar), the cookie the page's response sets (HttpOnly, SameSite=Strict; named after the port the
  server listens on, as cookies do not tell ports apart: two servers of one machine keep their own), or
  `Authorization: Bearer`.
- A WebSocket whose `Origin` is not the host it connects to is refused (another site's page); clients that send
  no Origin (not a browser) pass this check and still need the token.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from typing import Optional
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

COOKIE = "diamond_serve_token"  # the cookie's name, then "_" and the port the server listens on
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or address to bind to) is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _hostname(netloc: str) -> str:
    """The host of 'host:port', '[::1]:port' or 'host'."""
    return (urlsplit("//" + netloc).hostname or "").lower()


def csp(host_header: str) -> str:
    """The Content-Security-Policy: the page's own script and style only, WebSockets to its own host."""
    plain = bool(re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,260}", host_header))  # a host[:port], nothing else
    connect = "'self'" + (f" ws://{host_header} wss://{host_header}" if plain else "")
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src {connect}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def headers(host_header: str) -> dict[str, str]:
    """Headers of every HTTP response."""
    return {
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": csp(host_header),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


class Security:
    """The checks of the module docstring for a server listening on `port` and holding `token` (None: no token,
    loopback only)."""

    def __init__(self, token: Optional[str], port: int = 0):
        if token is not None and (len(token) < 8 or not token.isascii() or not token.isprintable()):
            raise ValueError("--token: expected at least 8 printable ASCII characters")
        self.token = token
        self.cookie = f"{COOKIE}_{port}"

    def given_token(self, conn: HTTPConnection) -> Optional[str]:
        auth = conn.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return conn.query_params.get("token") or conn.cookies.get(self.cookie)

    def refusal(self, conn: HTTPConnection) -> Optional[str]:
        """Why `conn` (a request or WebSocket) is refused, or None when it may go on."""
        if self.token is None:
            if _hostname(conn.headers.get("host", "")) not in LOOPBACK_NAMES:
                return "this server answers on a loopback host name only (127.0.0.1, localhost)"
            return None
        given = self.given_token(conn)
        if given is None:
            return "this server needs its token: open the URL that diamond serve printed (with ?token=...)"
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return "wrong token: open the URL that diamond serve printed"
        return None

    def origin_refusal(self, conn: HTTPConnection) -> Optional[str]:
        """Why a WebSocket's Origin is refused, or None (see the module docstring)."""
        origin = conn.headers.get("origin")
        if origin is None:
            return None
        if urlsplit(origin).netloc.lower() != conn.headers.get("host", "").lower():
            return f"origin {origin!r} is not this server's host"
        return None

"""The read-only wire to Trigon: the single function that sends anything to Trigon.

:class:`TrigonWire` lets through ``GET`` and the three auth ``POST``\\ s (login, refresh,
revoke) and refuses everything else, so the read-only promise does not depend on every
caller behaving. The auth strategies (``auth.py``) put their credentials on its GETs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trigon_sync.http.session import ApiResponse, HttpSession, RetryMode

AUTH_POSTS = frozenset({"/auth/login", "/auth/refresh", "/auth/revoke"})


class ReadOnlyViolation(AssertionError):
    """A bug: something tried to send a write to Trigon."""


class TrigonWire:
    """The only path to Trigon: GET, plus POST to the three auth endpoints."""

    def __init__(self, session: HttpSession) -> None:
        self._session = session

    @property
    def base_url(self) -> str:
        return self._session.base_url

    @property
    def stats(self) -> Any:
        return self._session.stats

    def close(self) -> None:
        self._session.close()

    def get(
        self, path: str, *, headers: Mapping[str, str], params: Mapping[str, Any] | None = None
    ) -> ApiResponse:
        """A GET carrying the credentials ``headers`` an auth strategy built."""
        return self._send("GET", path, params=params, headers=dict(headers))

    def auth_post(
        self, path: str, body: Mapping[str, Any], *, retry: RetryMode = RetryMode.CONNECT_ONLY
    ) -> ApiResponse:
        """Login, refresh or revoke; by default repeated only if it surely did not reach
        Trigon (a repeated refresh would present a token the first attempt rotated)."""
        return self._send("POST", path, json_body=dict(body), retry=retry)

    def _send(self, method: str, path: str, **kwargs: Any) -> ApiResponse:
        method = method.upper()
        if not (method == "GET" or (method == "POST" and path in AUTH_POSTS)):
            raise ReadOnlyViolation(f"trigon-sync never sends {method} {path} to Trigon")
        return self._session.send(method, path, **kwargs)

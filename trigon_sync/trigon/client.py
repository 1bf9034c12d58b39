"""The Trigon API client: read-only, paged, with Trigon's errors turned into typed ones.

Written against docs/trigon-api.md; if production differs, this module (with models.py)
is the one place to change. Every request goes through :class:`TrigonWire`, which only
lets GETs and the auth POSTs out, and through the auth strategy (trigon/auth.py): the
:class:`TokenManager`, which renews the access token once on a 401 and then repeats the
call, or :class:`StaticKeyAuth`, for which a 401 is final.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from trigon_sync.errors import (
    ApiError,
    AuthError,
    PartialFailure,
    PermissionDenied,
    TrigonSyncError,
    UsageError,
)
from trigon_sync.http.request_stats import RequestStats
from trigon_sync.http.session import ApiResponse, unexpected
from trigon_sync.http.url_path import api_path
from trigon_sync.trigon.auth import RECONNECT_HINT, TrigonAuth
from trigon_sync.trigon.models import (
    COLLECTIONS,
    EVENTS,
    SNAPSHOT_KINDS,
    SNAPSHOT_PARAM,
    Collection,
    Event,
    Firm,
    Reach,
    SnapshotKind,
    TrigonUser,
    count_from_json,
    data_of,
    firm_from_json,
    unexpected_answer,
    user_from_json,
)
from trigon_sync.trigon.wire import TrigonWire

PER_PAGE = 200
MAX_PAGES = 1000
"""200,000 firms: a list longer than that is a server fault, not a firm list."""
USER_REFUSALS = frozenset({"USER_INACTIVE", "USER_REMOVED"})
"""403 codes about the connected user, on any path (docs/trigon-api.md)."""
ROLE_HINT = (
    "add List and View for this firm to the user's role in Trigon, then run "
    "`trigon-sync connect` again"
)


class FirmNotViewable(PermissionDenied):
    """The role may List the firm but not View its data (403 FIRM_VIEW_FORBIDDEN)."""

    def __init__(self, firm_id: str) -> None:
        super().__init__(
            f"the Trigon user may list firm {firm_id} but not read its data (no View permission)",
            hint=ROLE_HINT,
        )
        self.firm_id = firm_id


class FirmNotFound(PermissionDenied):
    """Trigon does not show the firm: it does not exist or the role may not List it (404)."""

    def __init__(self, firm_id: str) -> None:
        super().__init__(
            f"Trigon firm {firm_id} does not exist or the Trigon user may not list it",
            hint=ROLE_HINT,
        )
        self.firm_id = firm_id


def reach_problem(reach: Reach) -> TrigonSyncError | None:
    """The failure a connection check reports: no firms at all, or some without View."""
    if not reach.firms:
        return PermissionDenied(
            "the Trigon user can list no firms: its role lacks the List permission",
            hint="add List and View for the firms to the user's role in Trigon, then run "
            "`trigon-sync connect` again",
        )
    hidden = reach.not_viewable
    if hidden:
        names = ", ".join(f"{f.name} ({f.id})" for f in hidden)
        return PartialFailure(
            f"the Trigon user can list but not read {len(hidden)} firm(s): {names}",
            result=reach,
            hint="add List and View for these firms to the user's role in Trigon, then run "
            "`trigon-sync connect` again",
        )
    return None


class TrigonClient:
    """Reads firms and counts from Trigon on behalf of the connected user."""

    def __init__(self, wire: TrigonWire, tokens: TrigonAuth) -> None:
        self._wire = wire
        self._tokens = tokens

    @property
    def base_url(self) -> str:
        return self._wire.base_url

    @property
    def auth_proof(self) -> str:
        """What a successful call proves about the connection (mode-specific, for `doctor`)."""
        return self._tokens.proof

    @property
    def stats(self) -> RequestStats:
        """Requests sent so far, per method (for benchmarks and run summaries)."""
        return self._wire.stats

    def close(self) -> None:
        self._wire.close()

    def __enter__(self) -> TrigonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public reads -------------------------------------------------------------------

    def me(self) -> TrigonUser:
        """The connected user; a cheap authenticated call for `status`/`doctor`."""
        return user_from_json(data_of(self._get(api_path("me")), "user answer"))

    def list_firms(self) -> list[Firm]:
        """Every firm the role may List (all pages)."""
        firms: list[Firm] = []
        seen: set[str] = set()
        page = 1
        while True:
            body = self._get(api_path("firms"), {"page": page, "per_page": PER_PAGE})
            items = data_of(body, "firm list")
            if not isinstance(items, list):
                raise unexpected_answer("firm list", body)
            batch = [firm_from_json(item) for item in items]
            fresh = [firm for firm in batch if firm.id not in seen]
            if batch and not fresh:
                raise ApiError(
                    f"Trigon's firm list does not advance: page {page} repeats firms "
                    "already listed",
                    status=200,
                    hint="the Trigon API may have changed; see docs/trigon-api.md",
                )
            seen.update(firm.id for firm in fresh)
            firms.extend(fresh)
            pagination = body.get("pagination") or {}
            total_pages = pagination.get("total_pages")
            if not items or not isinstance(total_pages, int) or page >= total_pages:
                return firms
            if page >= MAX_PAGES:
                raise ApiError(
                    f"Trigon's firm list claims more than {MAX_PAGES} pages",
                    status=200,
                    hint="the Trigon API may have changed; see docs/trigon-api.md",
                )
            page += 1

    def reach(self) -> Reach:
        """The firms the user may List, each marked viewable or not (for `connect`)."""
        return Reach(tuple(self.list_firms()))

    def get_firm(self, firm_id: str) -> Firm:
        return firm_from_json(data_of(self._firm_get(firm_id, ()), "firm"))

    def count(
        self,
        firm_id: str,
        collection: Collection,
        event: Event,
        start: dt.date,
        end: dt.date,
    ) -> int:
        """Records of ``collection`` created/updated within [start, end] (Tallinn dates)."""
        if collection not in COLLECTIONS:
            raise UsageError(f"unknown Trigon collection {collection!r}")
        if event not in EVENTS:
            raise UsageError(f"unknown event {event!r}: use 'created' or 'updated'")
        if start > end:
            raise UsageError(f"the window {start} .. {end} ends before it starts")
        params = {f"{event}_from": start.isoformat(), f"{event}_to": end.isoformat()}
        body = self._firm_get(firm_id, (collection, "count"), params)
        return count_from_json(body)

    def snapshot(self, firm_id: str, kind: SnapshotKind, as_of: dt.date) -> int:
        """Active reporting persons / depreciable fixed assets on ``as_of``."""
        if kind not in SNAPSHOT_KINDS:
            raise UsageError(f"unknown Trigon snapshot {kind!r}")
        params = {SNAPSHOT_PARAM[kind]: as_of.isoformat()}
        body = self._firm_get(firm_id, (kind, "count"), params)
        return count_from_json(body)

    def answer(self, *parts: str, params: Mapping[str, Any] | None = None) -> ApiResponse:
        """One GET whose whole answer the caller judges (an error answer is returned, not
        raised); each part is one encoded path segment. For ``doctor --probe``, which
        checks Trigon's answers against docs/trigon-api.md rather than relying on them."""
        return self._tokens.get(self._wire, api_path(*parts), params)

    # -- the one request path -----------------------------------------------------------

    def _firm_get(
        self, firm_id: str, rest: tuple[str, ...], params: Mapping[str, Any] | None = None
    ) -> Any:
        """GET ``/firms/<firm_id>/<rest...>`` with every part one encoded path segment, so
        the id is data (``f4/../f1`` and ``f%32`` name themselves, not firms f1 and f2)."""
        if not firm_id:
            raise FirmNotFound(firm_id)  # no URL names an empty id
        return self._get(api_path("firms", firm_id, *rest), params, firm_id=firm_id)

    def _get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        firm_id: str | None = None,
    ) -> Any:
        response = self._tokens.get(self._wire, path, params)
        if response.ok:
            return response.body
        raise self._error(response, firm_id)

    def _error(self, response: ApiResponse, firm_id: str | None) -> Exception:
        """A firm's 403 or 404 (whatever its code) fails that firm's client only: one firm
        Trigon will not show is never a reason to stop every other client's counts. A 403
        about the user (inactive, removed) is the whole connection's, not the firm's."""
        code = response.error_code
        per_firm_403 = response.status == 403 and code not in USER_REFUSALS
        if firm_id is not None and (code == "FIRM_VIEW_FORBIDDEN" or per_firm_403):
            return FirmNotViewable(firm_id)
        if firm_id is not None and (code == "FIRM_NOT_FOUND" or response.status == 404):
            return FirmNotFound(firm_id)
        if response.status == 401:
            return AuthError(f"Trigon refused the access token ({code})", hint=RECONNECT_HINT)
        return unexpected("Trigon", response)

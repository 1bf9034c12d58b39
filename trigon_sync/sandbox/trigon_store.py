"""The Trigon side of a sandbox world: users, tokens, permissions, firms, records, snapshots.

Refusals are raised as :class:`ApiProblem` with the status and code docs/trigon-api.md
gives them, so the app layer only routes. Callers hold the world's lock.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from trigon_sync.sandbox.counting import Event, RecordIndex
from trigon_sync.sandbox.problems import ApiProblem
from trigon_sync.sandbox.seed import (
    SeedApiKey,
    SeedFirm,
    SeedFixedAsset,
    SeedRecord,
    SeedReportingPerson,
    SeedUser,
    TrigonSeed,
)


@dataclass
class UserState:
    """A user's mutable grants; ``view_denied`` lets a ``"*"`` grant lose single firms."""

    email: str
    password: str
    name: str
    active: bool = True
    removed: bool = False
    list_all: bool = False
    list_ids: set[str] = field(default_factory=set)
    view_all: bool = False
    view_ids: set[str] = field(default_factory=set)
    list_denied: set[str] = field(default_factory=set)
    view_denied: set[str] = field(default_factory=set)

    @classmethod
    def from_seed(cls, user: SeedUser) -> UserState:
        return cls(
            email=user.email,
            password=user.password,
            name=user.name,
            active=user.active,
            removed=user.removed,
            list_all="*" in user.list,
            list_ids={f for f in user.list if f != "*"},
            view_all="*" in user.view,
            view_ids={f for f in user.view if f != "*"},
            list_denied=set(user.deny_list),
            view_denied=set(user.deny_view),
        )

    def can_list(self, firm_id: str) -> bool:
        if firm_id in self.list_denied:
            return False
        return self.list_all or firm_id in self.list_ids

    def can_view(self, firm_id: str) -> bool:
        if firm_id in self.view_denied:
            return False
        return self.view_all or firm_id in self.view_ids

    def grant(self, firm_id: str, what: Literal["list", "view"], allowed: bool) -> None:
        ids, denied = (
            (self.list_ids, self.list_denied)
            if what == "list"
            else (self.view_ids, self.view_denied)
        )
        if allowed:
            denied.discard(firm_id)
            ids.add(firm_id)
        else:
            denied.add(firm_id)
            ids.discard(firm_id)


@dataclass
class ApiKeyState:
    """An ID token + API key pair; ``revoked`` when deleted in Trigon's API settings."""

    email: str
    api_key: str
    environment: str
    revoked: bool = False

    @classmethod
    def from_seed(cls, email: str, key: SeedApiKey) -> ApiKeyState:
        return cls(email, key.api_key, key.environment)


@dataclass
class AccessToken:
    email: str
    family: str
    expires_at: float
    valid: bool = True


@dataclass
class RefreshToken:
    email: str
    family: str
    expires_at: float
    state: Literal["active", "rotated", "revoked"] = "active"


class TrigonStore:
    """Everything the Trigon API serves, built from a :class:`TrigonSeed`."""

    def __init__(self, seed: TrigonSeed) -> None:
        self.users: dict[str, UserState] = {
            u.email.lower(): UserState.from_seed(u) for u in seed.users
        }
        self.firms: dict[str, SeedFirm] = {f.id: f for f in seed.firms}
        self.records = RecordIndex(seed.records)
        self.persons: dict[str, list[SeedReportingPerson]] = {}
        for person in seed.reporting_persons:
            self.persons.setdefault(person.firm, []).append(person)
        self.assets: dict[str, list[SeedFixedAsset]] = {}
        for asset in seed.fixed_assets:
            self.assets.setdefault(asset.firm, []).append(asset)
        self.access_ttl = seed.access_token_ttl
        self.refresh_ttl = seed.refresh_token_ttl
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.api_keys: dict[str, ApiKeyState] = {
            k.id_token: ApiKeyState.from_seed(u.email, k) for u in seed.users for k in u.api_keys
        }
        self._record_seq = len(self.records)

    # -- authentication -----------------------------------------------------------------

    def _check_user(self, user: UserState) -> None:
        if user.removed:
            raise ApiProblem(403, "USER_REMOVED", "this user was removed from the organisation")
        if not user.active:
            raise ApiProblem(403, "USER_INACTIVE", "this user is deactivated")

    def _issue(self, user: UserState, family: str, now: float) -> dict[str, Any]:
        access = "tat_" + secrets.token_urlsafe(24)
        refresh = "trt_" + secrets.token_urlsafe(32)
        self.access_tokens[access] = AccessToken(user.email, family, now + self.access_ttl)
        self.refresh_tokens[refresh] = RefreshToken(user.email, family, now + self.refresh_ttl)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.access_ttl,
            "user": {"email": user.email, "name": user.name},
        }

    def login(self, email: str, password: str, now: float) -> dict[str, Any]:
        user = self.users.get(email.strip().lower())
        # bytes: compare_digest refuses str with non-ASCII characters (õ, ä, ö, ü)
        given, expected = password.encode("utf-8"), (user.password if user else "").encode("utf-8")
        if user is None or not secrets.compare_digest(expected, given):
            raise ApiProblem(401, "INVALID_CREDENTIALS", "invalid email or password")
        self._check_user(user)
        return self._issue(user, "fam_" + secrets.token_hex(8), now)

    def refresh(self, token: str, now: float) -> dict[str, Any]:
        current = self.refresh_tokens.get(token)
        if current is None:
            raise ApiProblem(401, "REFRESH_TOKEN_INVALID", "unknown refresh token")
        if current.state == "rotated":
            self.revoke_family(current.family)
            raise ApiProblem(
                401,
                "REFRESH_TOKEN_REVOKED",
                "refresh token was already used; every token of this login is revoked",
            )
        if current.state == "revoked":
            raise ApiProblem(401, "REFRESH_TOKEN_REVOKED", "refresh token was revoked")
        if now >= current.expires_at:
            raise ApiProblem(401, "REFRESH_TOKEN_EXPIRED", "refresh token expired")
        user = self.users[current.email.lower()]
        self._check_user(user)
        current.state = "rotated"
        return self._issue(user, current.family, now)

    def revoke(self, token: str) -> None:
        current = self.refresh_tokens.get(token)
        if current is not None:
            self.revoke_family(current.family)

    def revoke_family(self, family: str) -> None:
        for rt in self.refresh_tokens.values():
            if rt.family == family:
                rt.state = "revoked"
        for at in self.access_tokens.values():
            if at.family == family:
                at.valid = False

    def authenticate(self, header: str | None, now: float) -> UserState:
        """The user behind an ``Authorization: Bearer`` header, or the contract's 401."""
        if not header:
            raise ApiProblem(401, "ACCESS_TOKEN_MISSING", "Authorization header is missing")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiProblem(401, "ACCESS_TOKEN_INVALID", "expected 'Bearer <access_token>'")
        access = self.access_tokens.get(token.strip())
        if access is None or not access.valid:
            raise ApiProblem(401, "ACCESS_TOKEN_INVALID", "unknown or revoked access token")
        if now >= access.expires_at:
            raise ApiProblem(401, "ACCESS_TOKEN_EXPIRED", "access token expired")
        user = self.users[access.email.lower()]
        if user.removed or not user.active:
            raise ApiProblem(401, "ACCESS_TOKEN_INVALID", "access token no longer valid")
        return user

    def authenticate_api_key(
        self, id_token: str | None, api_key: str | None, environment: str
    ) -> UserState:
        """The user behind an ID token + API key pair in ``environment``, or a 401/403.

        Unknown token, wrong key and a key of the other environment all answer the same
        401, as the login does for a wrong email or password.
        """
        if not id_token or not api_key:
            raise ApiProblem(401, "API_KEY_MISSING", "send both the ID token and the API key")
        entry = self.api_keys.get(id_token.strip())
        if (
            entry is None
            or entry.environment != environment
            or not secrets.compare_digest(entry.api_key, api_key.strip())
        ):
            raise ApiProblem(401, "API_KEY_INVALID", "unknown ID token or wrong API key")
        if entry.revoked:
            raise ApiProblem(401, "API_KEY_REVOKED", "this API key was revoked")
        user = self.users[entry.email.lower()]
        self._check_user(user)
        return user

    def revoke_api_keys(self, email: str | None = None) -> int:
        """Revoke every API key (of one user, or everyone's); returns how many."""
        n = 0
        for entry in self.api_keys.values():
            if (email is None or entry.email.lower() == email.lower()) and not entry.revoked:
                entry.revoked = True
                n += 1
        return n

    def user_of(self, header: str | None, id_token: str | None = None) -> str | None:
        """Whose bucket a request uses (no validation; for rate limiting only)."""
        if id_token:
            entry = self.api_keys.get(id_token.strip())
            return entry.email if entry else None
        if not header:
            return None
        access = self.access_tokens.get(header.partition(" ")[2].strip())
        return access.email if access else None

    def expire_access_tokens(self) -> int:
        for at in self.access_tokens.values():
            at.expires_at = float("-inf")
        return len(self.access_tokens)

    def revoke_refresh_tokens(self, email: str | None = None) -> int:
        n = 0
        for rt in self.refresh_tokens.values():
            if (email is None or rt.email.lower() == email.lower()) and rt.state != "revoked":
                rt.state = "revoked"
                n += 1
        return n

    # -- firms and permissions ----------------------------------------------------------

    def firm_json(self, user: UserState, firm: SeedFirm) -> dict[str, Any]:
        return {
            "id": firm.id,
            "name": firm.name,
            "registration_code": firm.registration_code,
            "vat_number": firm.vat_number,
            "permissions": ["list", "view"] if user.can_view(firm.id) else ["list"],
        }

    def listable(self, user: UserState) -> list[SeedFirm]:
        return [f for f in self.firms.values() if user.can_list(f.id)]

    def firm_for(self, user: UserState, firm_id: str, *, need_view: bool) -> SeedFirm:
        firm = self.firms.get(firm_id)
        if firm is None or not user.can_list(firm_id):
            raise ApiProblem(404, "FIRM_NOT_FOUND", f"firm {firm_id} not found")
        if need_view and not user.can_view(firm_id):
            raise ApiProblem(
                403,
                "FIRM_VIEW_FORBIDDEN",
                f"your role has no View permission for firm {firm_id}",
                {"firm_id": firm_id},
            )
        return firm

    def user(self, email: str) -> UserState:
        user = self.users.get(email.lower())
        if user is None:
            raise KeyError(f"no Trigon user {email!r} in this sandbox")
        return user

    def add_firm(self, firm: SeedFirm) -> None:
        if firm.id in self.firms:
            raise ValueError(f"firm {firm.id!r} already exists")
        self.firms[firm.id] = firm

    def remove_firm(self, firm_id: str) -> None:
        if self.firms.pop(firm_id, None) is None:
            raise KeyError(f"no firm {firm_id!r}")
        self.records.drop_firm(firm_id)
        self.persons.pop(firm_id, None)
        self.assets.pop(firm_id, None)

    def add_record(self, record: SeedRecord) -> SeedRecord:
        if record.firm not in self.firms:
            raise KeyError(f"no firm {record.firm!r}")
        self.records.add(record)
        return record

    def next_record_id(self) -> str:
        self._record_seq += 1
        return f"r{self._record_seq}"

    # -- counting -----------------------------------------------------------------------

    def count(self, firm_id: str, rtype: str, event: Event, start: dt.date, end: dt.date) -> int:
        return self.records.count(firm_id, rtype, event, start, end)

    def persons_on(self, firm_id: str, day: dt.date) -> int:
        return sum(
            1
            for p in self.persons.get(firm_id, ())
            if p.active_from <= day and (p.active_to is None or p.active_to >= day)
        )

    def assets_on(self, firm_id: str, day: dt.date) -> int:
        return sum(
            1
            for a in self.assets.get(firm_id, ())
            if a.depreciation_start <= day <= a.depreciation_end
        )

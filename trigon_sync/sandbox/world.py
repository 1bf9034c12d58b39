"""SandboxWorld: the mutable state both sandbox servers share, plus what tests inspect.

One world is built from a seed and served by a Trigon app and an Uku app at once (the
apps hold only their fault plans and rate buckets). Tests change the world between or
during runs — revoke View on a firm, deactivate a user, expire tokens, add records — and
read back what the servers saw: every request (method, path, status, fault) and every
Uku write (body, Idempotency-Key, replayed or not, the stored object).

All access goes through one re-entrant lock: the servers run in a background thread
while the test thread calls these methods.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from trigon_sync.sandbox.seed import (
    RECORD_TYPES,
    Seed,
    SeedFirm,
    SeedRecord,
)
from trigon_sync.sandbox.seed_reader import load_seed, parse_seed
from trigon_sync.sandbox.trigon_store import TrigonStore
from trigon_sync.sandbox.uku_store import UkuStore

Side = Literal["trigon", "uku"]


class SandboxWorld:
    """In-memory Trigon + Uku + register built from a :class:`Seed` (or its JSON dict)."""

    def __init__(self, seed: Seed | Mapping[str, Any]) -> None:
        self.seed: Seed = seed if isinstance(seed, Seed) else parse_seed(seed)
        self.lock = threading.RLock()
        self.trigon = TrigonStore(self.seed.trigon)
        self.uku = UkuStore(self.seed.uku)
        self.register: list[dict[str, str]] = [dict(r) for r in self.seed.register]
        self._requests: dict[Side, list[dict[str, Any]]] = {"trigon": [], "uku": []}
        self._writes: list[dict[str, Any]] = []

    @classmethod
    def from_file(cls, path: Path | str) -> SandboxWorld:
        return cls(load_seed(path))

    # -- credentials (what `sandbox serve` prints) ---------------------------------------

    def credentials(self) -> dict[str, Any]:
        """The seeded logins: Trigon users with passwords, the Uku key and company."""
        with self.lock:
            return {
                "trigon_users": [
                    {
                        "email": u.email,
                        "password": u.password,
                        "active": u.active,
                        "removed": u.removed,
                    }
                    for u in self.trigon.users.values()
                ],
                "trigon_api_keys": [
                    {
                        "email": k.email,
                        "id_token": id_token,
                        "api_key": k.api_key,
                        "environment": k.environment,
                    }
                    for id_token, k in self.trigon.api_keys.items()
                ],
                "uku_api_key": self.uku.api_key,
                "uku_company": self.uku.company,
            }

    def every_secret(self) -> list[str]:
        """Every password, key and token the servers know (for the echo fault and tests)."""
        with self.lock:
            found = [u.password for u in self.trigon.users.values()]
            found += [self.uku.api_key, *self.trigon.access_tokens, *self.trigon.refresh_tokens]
            return [s for s in found if s]

    # -- Trigon changes -----------------------------------------------------------------

    def set_permission(
        self,
        firm_id: str,
        *,
        view: bool | None = None,
        list_: bool | None = None,
        email: str | None = None,
    ) -> None:
        """Grant or take List/View on one firm for one user (``email``) or for everyone."""
        with self.lock:
            if firm_id not in self.trigon.firms:
                raise KeyError(f"no firm {firm_id!r}")
            users = [self.trigon.user(email)] if email else list(self.trigon.users.values())
            for user in users:
                if view is not None:
                    user.grant(firm_id, "view", view)
                if list_ is not None:
                    user.grant(firm_id, "list", list_)

    def revoke_view(self, firm_id: str, email: str | None = None) -> None:
        """Take View away: the firm stays listed but its data answers 403 FIRM_VIEW_FORBIDDEN."""
        self.set_permission(firm_id, view=False, email=email)

    def restore_view(self, firm_id: str, email: str | None = None) -> None:
        self.set_permission(firm_id, view=True, email=email)

    def remove_firm(self, firm_id: str) -> None:
        """Delete a firm from Trigon (and its records): it answers 404 from now on."""
        with self.lock:
            self.trigon.remove_firm(firm_id)

    def set_user_active(self, email: str, active: bool) -> None:
        with self.lock:
            self.trigon.user(email).active = active

    def deactivate_user(self, email: str) -> None:
        self.set_user_active(email, False)

    def set_user_removed(self, email: str, removed: bool = True) -> None:
        with self.lock:
            self.trigon.user(email).removed = removed

    def expire_access_tokens(self) -> int:
        """Every issued access token answers ACCESS_TOKEN_EXPIRED from now on."""
        with self.lock:
            return self.trigon.expire_access_tokens()

    def revoke_refresh_tokens(self, email: str | None = None) -> int:
        """Revoke all refresh tokens (of one user, or everyone's); returns how many."""
        with self.lock:
            return self.trigon.revoke_refresh_tokens(email)

    def revoke_api_keys(self, email: str | None = None) -> int:
        """Revoke all ID token + API key pairs (of one user, or everyone's); returns how many."""
        with self.lock:
            return self.trigon.revoke_api_keys(email)

    def add_firm(
        self,
        firm_id: str,
        name: str,
        registration_code: str | None,
        vat_number: str | None = None,
    ) -> SeedFirm:
        """A new firm in Trigon; users with a ``"*"`` grant see it at once."""
        firm = SeedFirm(firm_id, name, registration_code, vat_number)
        with self.lock:
            self.trigon.add_firm(firm)
        return firm

    def add_record(
        self,
        firm: str,
        type: str,
        created_at: dt.datetime | str,
        updated_at: dt.datetime | str | None = None,
        *,
        id: str | None = None,
    ) -> SeedRecord:
        """Add one record (timestamps aware datetimes or RFC 3339 strings with an offset)."""
        created = _aware(created_at)
        updated = _aware(updated_at) if updated_at is not None else created
        if updated < created:
            raise ValueError("updated_at is earlier than created_at")
        if type not in RECORD_TYPES:
            raise ValueError(f"unknown record type {type!r}")
        with self.lock:
            record = SeedRecord(firm, type, created, updated, id or self.trigon.next_record_id())
            return self.trigon.add_record(record)

    def add_records(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Add seed-shaped record dicts; returns how many."""
        n = 0
        for row in rows:
            self.add_record(
                row["firm"],
                row["type"],
                row["created_at"],
                row.get("updated_at"),
                id=row.get("id"),
            )
            n += 1
        return n

    # -- Uku changes --------------------------------------------------------------------

    def set_uku(
        self,
        *,
        plan: str | None = None,
        api_key_role: str | None = None,
        complete_endpoint: bool | None = None,
    ) -> None:
        """Switch the Uku company's plan, key role, or the /complete endpoint (old deployments)."""
        with self.lock:
            if plan is not None:
                self.uku.plan = plan
            if api_key_role is not None:
                self.uku.api_key_role = api_key_role
            if complete_endpoint is not None:
                self.uku.complete_endpoint = complete_endpoint

    def delete_task(self, task_id: int) -> None:
        """What a person deleting a summary task in Uku does (KeyError if unknown)."""
        with self.lock:
            if task_id not in self.uku.tasks:
                raise KeyError(f"task {task_id}")
            self.uku.delete_task(task_id)

    def move_task(self, task_id: int, client_id: int) -> None:
        """What a person moving a task onto another Uku client does (KeyError if unknown)."""
        with self.lock:
            if task_id not in self.uku.tasks:
                raise KeyError(f"task {task_id}")
            if client_id not in self.uku.clients:
                raise KeyError(f"client {client_id}")
            self.uku.move_task(task_id, client_id)

    # -- logs ---------------------------------------------------------------------------

    def log_request(self, side: Side, entry: dict[str, Any]) -> None:
        with self.lock:
            entry["seq"] = len(self._requests[side]) + 1
            self._requests[side].append(entry)

    def log_write(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            entry["seq"] = len(self._writes) + 1
            self._writes.append(entry)
            return entry

    def requests(self, side: Side) -> list[dict[str, Any]]:
        """Every non-admin request one server answered: method, path, status, fault."""
        with self.lock:
            return copy.deepcopy(self._requests[side])

    def writes(self) -> list[dict[str, Any]]:
        """Every POST/PATCH that reached the Uku handlers, in order (see docs/sandbox.md)."""
        with self.lock:
            return copy.deepcopy(self._writes)

    def clear_logs(self) -> None:
        with self.lock:
            self._requests = {"trigon": [], "uku": []}
            self._writes = []

    def uku_state(self) -> dict[str, Any]:
        """Uku clients and tasks exactly as stored."""
        with self.lock:
            return self.uku.state()


def _aware(value: dt.datetime | str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} needs an offset")
    return moment

"""Reading a sandbox seed: the shapes from ``seed.schema.json``, then what a schema cannot say.

jsonschema (the sandbox extra) checks every shape against the schema (``seed_schema.py``);
the builder here adds the rest (ids that must exist or be unique, dates in order,
timestamps with an offset) and builds the typed :class:`~trigon_sync.sandbox.seed.Seed`.
Every problem is reported at once, one per line with its JSON path
(``$.uku.tasks[3].client_id: …``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from trigon_sync.sandbox.seed import (
    DEFAULT_ACCESS_TTL,
    DEFAULT_REFRESH_TTL,
    Seed,
    SeedApiKey,
    SeedError,
    SeedFirm,
    SeedFixedAsset,
    SeedRecord,
    SeedReportingPerson,
    SeedUser,
    TrigonSeed,
    UkuSeed,
)
from trigon_sync.sandbox.seed_schema import Path_, json_path, schema_problems
from trigon_sync.sandbox.unrelated_tasks import UnrelatedTasks


def load_seed(path: Path | str) -> Seed:
    """Read and validate a seed file; raises :class:`SeedError` listing every problem."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError([f"cannot read it ({exc.strerror})"], source=str(path)) from exc
    except json.JSONDecodeError as exc:
        raise SeedError([f"not JSON: {exc}"], source=str(path)) from exc
    return parse_seed(raw, source=str(path))


def parse_seed(raw: Any, *, source: str = "seed") -> Seed:
    """Validate a seed document (already decoded JSON) and build the typed :class:`Seed`."""
    explained = schema_problems(raw)
    problems = [f"{json_path(path)}: {message}" for path, message in explained]
    builder = _Builder({path for path, _ in explained})
    seed = builder.seed(raw)
    problems += builder.problems
    if problems or seed is None:
        raise SeedError(_in_order(problems) or ["empty seed"], source=source)
    return seed


# ---------------------------------------------------------------------------------------
# reporting


def _in_order(problems: list[str]) -> list[str]:
    """Document order, so a long list reads top to bottom (indexes compared as numbers)."""

    def key(problem: str) -> list[tuple[int, int | str]]:
        where = problem.split(": ", 1)[0]
        return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\[\]]+", where) if p]

    return sorted(problems, key=key)


# ---------------------------------------------------------------------------------------
# what a schema cannot say, and the typed seed


class _Builder:
    """Builds the typed seed from the entries the schema passed, checking what it cannot:
    references between entries, unique ids, dates in order, timestamps with an offset.

    An entry with a schema error is left out (its problem is already reported), so the
    builder only reads values of the right shape.
    """

    def __init__(self, broken: set[Path_]) -> None:
        self.broken = broken
        self.problems: list[str] = []

    def bad(self, path: Path_, message: str) -> None:
        self.problems.append(f"{json_path(path)}: {message}")

    def _touches(self, path: Path_) -> bool:
        """A schema error at ``path``, inside it, or at a place that contains it."""
        n = len(path)
        return any(b[:n] == path or path[: len(b)] == b for b in self.broken)

    def _above(self, path: Path_) -> bool:
        """A schema error at ``path`` or at a place that contains it (its shape is wrong)."""
        return any(path[: len(b)] == b for b in self.broken)

    def section(self, parent: Mapping[str, Any], key: str, path: Path_) -> Mapping[str, Any]:
        here = (*path, key)
        value = parent.get(key, {})
        return {} if self._above(here) or not isinstance(value, Mapping) else value

    def rows(
        self, parent: Mapping[str, Any], key: str, path: Path_
    ) -> Iterator[tuple[int, Path_, dict[str, Any]]]:
        """Each entry of the list at ``key`` that is an object, with its place."""
        here = (*path, key)
        if self._above(here):
            return
        for i, row in enumerate(parent.get(key, [])):
            if not self._above((*here, i)):
                yield i, (*here, i), row

    def ok(self, path: Path_) -> bool:
        """No schema error at, inside or around ``path``: its value has the right shape."""
        return not self._touches(path)

    def date(self, value: str | None) -> dt.date | None:
        return None if value is None else dt.date.fromisoformat(value)  # the schema checked it

    def timestamp(self, value: str, path: Path_) -> dt.datetime | None:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            self.bad(path, "must be an RFC 3339 timestamp with an offset")
            return None
        if parsed.tzinfo is None:
            self.bad(path, "needs an offset, e.g. +03:00")
            return None
        return parsed

    # -- sections -----------------------------------------------------------------------

    def seed(self, raw: Any) -> Seed | None:
        if self._above(()) or not isinstance(raw, Mapping):
            return None
        trigon = self.trigon(self.section(raw, "trigon", ()))
        uku = self.uku(self.section(raw, "uku", ()))
        register = self.register(raw)
        return Seed(trigon=trigon, uku=uku, register=register, raw=raw)

    def trigon(self, raw: Mapping[str, Any]) -> TrigonSeed:
        p: Path_ = ("trigon",)
        firms: list[SeedFirm] = []
        firm_ids: set[str] = set()
        for _, path, obj in self.rows(raw, "firms", p):
            if not self.ok((*path, "id")):
                continue
            if obj["id"] in firm_ids:
                self.bad((*path, "id"), f"duplicate firm id {obj['id']!r}")
            elif self.ok(path):
                firm_ids.add(obj["id"])
                firms.append(
                    SeedFirm(
                        obj["id"], obj["name"], obj["registration_code"], obj.get("vat_number")
                    )
                )

        def known_firm(obj: Mapping[str, Any], path: Path_) -> bool:
            if not self.ok((*path, "firm")):
                return False
            if obj["firm"] in firm_ids:
                return True
            self.bad((*path, "firm"), f"unknown firm id {obj['firm']!r}")
            return False

        users: list[SeedUser] = []
        id_tokens: set[str] = set()
        for _, path, obj in self.rows(raw, "users", p):
            grants: dict[str, tuple[str, ...]] = {}
            for key in ("list", "view", "deny_list", "deny_view"):
                ids = tuple(obj.get(key, [] if key.startswith("deny") else ["*"]))
                if self.ok((*path, key)):
                    for fid in ids:
                        if fid != "*" and fid not in firm_ids:
                            self.bad((*path, key), f"unknown firm id {fid!r}")
                grants[key] = ids
            api_keys: list[SeedApiKey] = []
            for _, kpath, kobj in self.rows(obj, "api_keys", path):
                if not self.ok((*kpath, "id_token")):
                    continue
                if kobj["id_token"] in id_tokens:
                    self.bad((*kpath, "id_token"), "is used by another API key")
                    continue
                id_tokens.add(kobj["id_token"])
                env = kobj.get("environment", "production")
                api_keys.append(SeedApiKey(kobj["id_token"], kobj.get("api_key", ""), env))
            if self.ok(path):
                email = obj["email"]
                users.append(
                    SeedUser(
                        email=email,
                        password=obj["password"],
                        name=obj.get("name") or email.split("@")[0].title(),
                        active=obj.get("active", True),
                        removed=obj.get("removed", False),
                        list=grants["list"],
                        view=grants["view"],
                        deny_list=grants["deny_list"],
                        deny_view=grants["deny_view"],
                        api_keys=tuple(api_keys),
                    )
                )

        records: list[SeedRecord] = []
        for i, path, obj in self.rows(raw, "records", p):
            firm = known_firm(obj, path)
            created = updated = None
            if self.ok((*path, "created_at")):
                created = self.timestamp(obj["created_at"], (*path, "created_at"))
                updated = created
            if obj.get("updated_at") is not None and self.ok((*path, "updated_at")):
                updated = self.timestamp(obj["updated_at"], (*path, "updated_at"))
            if created and updated and updated < created:
                self.bad((*path, "updated_at"), "is earlier than created_at")
            elif firm and created and updated and self.ok(path):
                rid = obj.get("id") or f"r{i + 1}"
                date = self.date(obj.get("date"))
                records.append(SeedRecord(obj["firm"], obj["type"], created, updated, rid, date))

        persons: list[SeedReportingPerson] = []
        for _, path, obj in self.rows(raw, "reporting_persons", p):
            if known_firm(obj, path) and self.ok(path):
                start = dt.date.fromisoformat(obj["active_from"])
                end = self.date(obj.get("active_to"))
                persons.append(SeedReportingPerson(obj["firm"], start, end, obj.get("name")))

        assets: list[SeedFixedAsset] = []
        for _, path, obj in self.rows(raw, "fixed_assets", p):
            firm = known_firm(obj, path)
            if not self.ok(path):
                continue
            start = dt.date.fromisoformat(obj["depreciation_start"])
            end = dt.date.fromisoformat(obj["depreciation_end"])
            if end < start:
                self.bad((*path, "depreciation_end"), "is earlier than depreciation_start")
            elif firm:
                assets.append(SeedFixedAsset(obj["firm"], start, end, obj.get("name")))

        return TrigonSeed(
            users=tuple(users),
            firms=tuple(firms),
            records=tuple(records),
            reporting_persons=tuple(persons),
            fixed_assets=tuple(assets),
            access_token_ttl=raw.get("access_token_ttl", DEFAULT_ACCESS_TTL),
            refresh_token_ttl=raw.get("refresh_token_ttl", DEFAULT_REFRESH_TTL),
        )

    def ids(self, raw: Mapping[str, Any], kind: str) -> set[int]:
        """The ids of ``uku.<kind>``, reporting each one used twice."""
        seen: set[int] = set()
        for _, path, obj in self.rows(raw, kind, ("uku",)):
            if self.ok((*path, "id")):
                if obj["id"] in seen:
                    self.bad((*path, "id"), f"duplicate id {obj['id']}")
                seen.add(obj["id"])
        return seen

    def clean(self, raw: Mapping[str, Any], kind: str) -> Iterator[tuple[Path_, dict[str, Any]]]:
        """The entries of ``uku.<kind>`` the schema passed whole."""
        for _, path, obj in self.rows(raw, kind, ("uku",)):
            if self.ok(path):
                yield path, obj

    def uku(self, raw: Mapping[str, Any]) -> UkuSeed:
        member_ids = self.ids(raw, "members")
        members = [
            {
                "id": obj["id"],
                "email": obj["email"],
                "name": obj.get("name") or obj["email"].split("@")[0].title(),
                "role": obj.get("role", "member"),
            }
            for _, obj in self.clean(raw, "members")
        ]

        client_ids = self.ids(raw, "clients")
        clients = []
        for _, path, obj in self.rows(raw, "clients", ("uku",)):
            manager = obj.get("manager_id")
            ok_manager = manager is not None and self.ok((*path, "manager_id"))
            if ok_manager and manager not in member_ids:
                self.bad((*path, "manager_id"), f"unknown member id {manager}")
            if self.ok(path):
                clients.append(
                    {
                        "id": obj["id"],
                        "name": obj["name"],
                        "registration_code": obj.get("registration_code"),
                        "vat_number": obj.get("vat_number"),
                        "country": obj.get("country") or "EE",
                        "manager_id": manager,
                    }
                )

        topic_ids = self.ids(raw, "topics")
        topics = [{"id": obj["id"], "name": obj["name"]} for _, obj in self.clean(raw, "topics")]

        self.ids(raw, "custom_fields")
        fields = [
            {
                "id": obj["id"],
                "name": obj["name"],
                "type": obj["type"],
                "entity": obj.get("entity", "task"),
            }
            for _, obj in self.clean(raw, "custom_fields")
        ]
        task_field_ids = {f["id"] for f in fields if f["entity"] == "task"}

        self.ids(raw, "tasks")
        tasks = []
        for _, path, obj in self.rows(raw, "tasks", ("uku",)):
            client_id, topic_id = obj.get("client_id"), obj.get("topic_id")
            if self.ok((*path, "client_id")) and client_id not in client_ids:
                self.bad((*path, "client_id"), f"unknown client id {client_id}")
            ok_topic = topic_id is not None and self.ok((*path, "topic_id"))
            if ok_topic and topic_id not in topic_ids:
                self.bad((*path, "topic_id"), f"unknown topic id {topic_id}")
            values = []
            for _, cf_path, cf_obj in self.rows(obj, "custom_fields", path):
                field_id = cf_obj.get("field_id")
                if self.ok((*cf_path, "field_id")) and field_id not in task_field_ids:
                    self.bad((*cf_path, "field_id"), f"unknown task field {field_id}")
                values.append({"field_id": field_id, "value": cf_obj.get("value")})
            if self.ok(path):
                tasks.append(
                    {
                        "id": obj["id"],
                        "title": obj["title"],
                        "client_id": client_id,
                        "topic_id": topic_id,
                        "date": obj["date"],
                        "status": obj.get("status", "new"),
                        "description": obj.get("description"),
                        "custom_fields": values,
                    }
                )

        return UkuSeed(
            company=raw.get("company") or "",
            api_key=raw.get("api_key") or "",
            plan=raw.get("plan", "team"),
            api_key_role=raw.get("api_key_role", "admin"),
            complete_endpoint=raw.get("complete_endpoint", True),
            clients=tuple(clients),
            topics=tuple(topics),
            custom_fields=tuple(fields),
            members=tuple(members),
            tasks=tuple(tasks),
            unrelated_tasks=self.unrelated(raw),
        )

    def unrelated(self, raw: Mapping[str, Any]) -> UnrelatedTasks | None:
        """``uku.unrelated_tasks``: ``{"count": N, "first"?: date, "last"?: date}``."""
        spec = raw.get("unrelated_tasks")
        path = ("uku", "unrelated_tasks")
        if not isinstance(spec, Mapping) or not self.ok(path):
            return None
        try:
            days = {k: dt.date.fromisoformat(spec[k]) for k in ("first", "last") if k in spec}
            return UnrelatedTasks(spec["count"], **days)
        except (KeyError, TypeError, ValueError) as exc:
            self.bad(path, str(exc))
            return None

    def register(self, top: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
        rows = []
        for path, obj in ((path, obj) for _, path, obj in self.rows(top, "register", ())):
            if not self.ok(path):
                continue
            extra = {k: obj[k] for k in ("kmkr_nr", "first_entry_date", "address") if obj.get(k)}
            if "first_entry_date" in extra:
                try:
                    dt.datetime.strptime(extra["first_entry_date"], "%d.%m.%Y")  # noqa: DTZ007 - a date, no time
                except ValueError:
                    self.bad((*path, "first_entry_date"), "is not a calendar date (dd.mm.yyyy)")
                    continue
            rows.append(
                {
                    "registration_code": obj["registration_code"],
                    "name": obj["name"],
                    "status": obj["status"],
                    **extra,
                }
            )
        return tuple(rows)

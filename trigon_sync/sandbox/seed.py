"""The sandbox seed: one JSON document describing the Trigon world, the Uku world and the register.

The format is documented in docs/sandbox.md and described by ``seed.schema.json`` next to
this file. jsonschema is not a dependency of the project, so validation is done here in
code (every problem at once, each with its JSON path) and the schema file is the
machine-readable documentation of the same rules.

Trigon parts are parsed into frozen dataclasses (timestamps become aware datetimes);
Uku parts stay in their wire shape (plain dicts) because the Uku app serves them as-is.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trigon_sync.errors import UsageError

RECORD_TYPES: tuple[str, ...] = (
    "payment",
    "purchase_invoice",
    "sales_invoice",
    "financial_entry",
    "expense_line",
    "depreciation_entry",
)
#: URL collection name (docs/trigon-api.md) -> record type in the seed.
COLLECTIONS: dict[str, str] = {
    "payments": "payment",
    "purchase-invoices": "purchase_invoice",
    "sales-invoices": "sales_invoice",
    "financial-entries": "financial_entry",
    "expense-lines": "expense_line",
    "depreciation-entries": "depreciation_entry",
}
UKU_FIELD_TYPES = ("number", "text", "date", "select")
UKU_ENTITIES = ("task", "client")
UKU_TASK_STATUSES = ("new", "in_progress", "finished")
UKU_PLANS_WITH_API = ("team", "elite")
UKU_PLANS = ("free", "starter", "pro", "team", "elite")
UKU_ROLES = ("owner", "admin", "member")
REGISTER_STATUSES = ("R", "L", "N")
TRIGON_ENVIRONMENTS = ("production", "test")
DEFAULT_ACCESS_TTL = 900
DEFAULT_REFRESH_TTL = 30 * 24 * 3600


class SeedError(UsageError):
    """A seed file cannot be used; ``problems`` lists every bad entry with its JSON path."""

    def __init__(self, problems: Sequence[str], *, source: str = "seed") -> None:
        self.problems = tuple(problems)
        shown = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(
            f"{source} is not a valid sandbox seed: {shown}{more}",
            hint="see docs/sandbox.md for the seed format, or generate one with "
            "`trigon-sync sandbox seed`",
        )


@dataclass(frozen=True)
class SeedApiKey:
    """An ID token + API key pair generated in Trigon's API settings for one environment."""

    id_token: str
    api_key: str
    environment: str = "production"


@dataclass(frozen=True)
class SeedUser:
    """A Trigon user; ``list``/``view`` hold firm ids or ``"*"`` (every firm)."""

    email: str
    password: str
    name: str
    active: bool = True
    removed: bool = False
    list: tuple[str, ...] = ("*",)
    view: tuple[str, ...] = ("*",)
    deny_list: tuple[str, ...] = ()
    deny_view: tuple[str, ...] = ()
    api_keys: tuple[SeedApiKey, ...] = ()


@dataclass(frozen=True)
class SeedFirm:
    id: str
    name: str
    registration_code: str | None
    vat_number: str | None = None


@dataclass(frozen=True)
class SeedRecord:
    """One accounting record; ``date`` is the document date (earlier when back-dated)."""

    firm: str
    type: str
    created_at: dt.datetime
    updated_at: dt.datetime
    id: str
    date: dt.date | None = None


@dataclass(frozen=True)
class SeedReportingPerson:
    firm: str
    active_from: dt.date
    active_to: dt.date | None = None
    name: str | None = None


@dataclass(frozen=True)
class SeedFixedAsset:
    firm: str
    depreciation_start: dt.date
    depreciation_end: dt.date
    name: str | None = None


@dataclass(frozen=True)
class TrigonSeed:
    users: tuple[SeedUser, ...] = ()
    firms: tuple[SeedFirm, ...] = ()
    records: tuple[SeedRecord, ...] = ()
    reporting_persons: tuple[SeedReportingPerson, ...] = ()
    fixed_assets: tuple[SeedFixedAsset, ...] = ()
    access_token_ttl: int = DEFAULT_ACCESS_TTL
    refresh_token_ttl: int = DEFAULT_REFRESH_TTL


@dataclass(frozen=True)
class UkuSeed:
    """The Uku company; objects are wire-shaped dicts (docs/uku-api.md, Assumptions)."""

    company: str
    api_key: str
    plan: str = "team"
    api_key_role: str = "admin"
    complete_endpoint: bool = True
    clients: tuple[dict[str, Any], ...] = ()
    topics: tuple[dict[str, Any], ...] = ()
    custom_fields: tuple[dict[str, Any], ...] = ()
    members: tuple[dict[str, Any], ...] = ()
    tasks: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Seed:
    """A validated seed; ``raw`` is the JSON it came from (for re-serialising)."""

    trigon: TrigonSeed
    uku: UkuSeed
    register: tuple[dict[str, str], ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


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
    checker = _Checker()
    seed = checker.seed(raw)
    if checker.problems or seed is None:
        raise SeedError(checker.problems or ["empty seed"], source=source)
    return seed


# ---------------------------------------------------------------------------------------
# validation: a small hand-written checker mirroring seed.schema.json


class _Checker:
    """Collects problems as ``$.path: message`` strings instead of failing on the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def obj(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.bad(path, "must be an object")
            return None
        return value

    def items(self, parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value = parent.get(key, [])
        if not isinstance(value, list):
            self.bad(f"{path}.{key}", "must be a list")
            return []
        return value

    def objects(
        self, parent: Mapping[str, Any], key: str, path: str
    ) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """Each object in the list at ``key``, with its index and JSON path.

        Entries that are not objects are reported and skipped here, so every section's loop
        only sees entries it can read fields from.
        """
        for i, item in enumerate(self.items(parent, key, path)):
            item_path = f"{path}.{key}[{i}]"
            obj = self.obj(item, item_path)
            if obj is not None:
                yield i, item_path, obj

    def string(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        nullable: bool = False,
        default: str | None = None,
    ) -> str | None:
        if key not in obj:
            if required:
                self.bad(f"{path}.{key}", "is required")
            return default
        value = obj[key]
        if value is None and nullable:
            return None
        if not isinstance(value, str) or (required and not value):
            self.bad(
                f"{path}.{key}", "must be a non-empty string" if required else "must be a string"
            )
            return default
        return value

    def integer(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        nullable: bool = False,
        default: int | None = None,
        minimum: int | None = None,
    ) -> int | None:
        if key not in obj:
            if required:
                self.bad(f"{path}.{key}", "is required")
            return default
        value = obj[key]
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(f"{path}.{key}", "must be an integer")
            return default
        if minimum is not None and value < minimum:
            self.bad(f"{path}.{key}", f"must be at least {minimum}")
            return default
        return value

    def boolean(self, obj: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = obj.get(key, default)
        if not isinstance(value, bool):
            self.bad(f"{path}.{key}", "must be true or false")
            return default
        return value

    def choice(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        options: Sequence[str],
        default: str | None = None,
    ) -> str | None:
        value = obj.get(key, default)
        if value not in options:
            self.bad(f"{path}.{key}", f"must be one of {', '.join(options)}")
            return default
        return value

    def date(
        self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True
    ) -> dt.date | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.bad(f"{path}.{key}", "is required (YYYY-MM-DD)")
            return None
        try:
            return dt.date.fromisoformat(value) if isinstance(value, str) else _raise()
        except (ValueError, TypeError):
            self.bad(f"{path}.{key}", "must be a date YYYY-MM-DD")
            return None

    def timestamp(self, value: Any, path: str) -> dt.datetime | None:
        try:
            parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else _raise()
        except (ValueError, TypeError):
            self.bad(path, "must be an RFC 3339 timestamp with an offset")
            return None
        if parsed.tzinfo is None:
            self.bad(path, "needs an offset, e.g. +03:00")
            return None
        return parsed

    def ids(self, values: list[Any], path: str) -> tuple[str, ...]:
        out = []
        for i, v in enumerate(values):
            if not isinstance(v, str):
                self.bad(f"{path}[{i}]", 'must be a firm id or "*"')
            else:
                out.append(v)
        return tuple(out)

    # -- sections -----------------------------------------------------------------------

    def seed(self, raw: Any) -> Seed | None:
        top = self.obj(raw, "$")
        if top is None:
            return None
        trigon_raw = self.obj(top.get("trigon", {}), "$.trigon") or {}
        uku_raw = self.obj(top.get("uku"), "$.uku") if "uku" in top else None
        if "uku" not in top:
            self.bad("$.uku", "is required (company and api_key at least)")
        trigon = self.trigon(trigon_raw)
        uku = self.uku(uku_raw or {})
        register = self.register(top)
        return Seed(trigon=trigon, uku=uku, register=register, raw=top)

    def trigon(self, raw: Mapping[str, Any]) -> TrigonSeed:
        p = "$.trigon"
        firms: list[SeedFirm] = []
        firm_ids: set[str] = set()
        for _, path, obj in self.objects(raw, "firms", p):
            fid = self.string(obj, "id", path)
            name = self.string(obj, "name", path)
            code = self.string(obj, "registration_code", path, nullable=True)
            vat = self.string(obj, "vat_number", path, required=False, nullable=True)
            if fid in firm_ids:
                self.bad(f"{path}.id", f"duplicate firm id {fid!r}")
            if fid and name:
                firm_ids.add(fid)
                firms.append(SeedFirm(fid, name, code, vat))

        def firm_ref(obj: Mapping[str, Any], path: str) -> str | None:
            fid = self.string(obj, "firm", path)
            if fid is not None and fid not in firm_ids:
                self.bad(f"{path}.firm", f"unknown firm id {fid!r}")
                return None
            return fid

        users: list[SeedUser] = []
        id_tokens: set[str] = set()
        for _, path, obj in self.objects(raw, "users", p):
            email = self.string(obj, "email", path)
            password = self.string(obj, "password", path)
            grants = {}
            for key in ("list", "view", "deny_list", "deny_view"):
                default = [] if key.startswith("deny") else ["*"]
                ids = self.ids(
                    self.items(obj, key, path) if key in obj else default, f"{path}.{key}"
                )
                for fid in ids:
                    if fid != "*" and fid not in firm_ids:
                        self.bad(f"{path}.{key}", f"unknown firm id {fid!r}")
                grants[key] = ids
            api_keys: list[SeedApiKey] = []
            for _, kpath, kobj in self.objects(obj, "api_keys", path):
                id_token = self.string(kobj, "id_token", kpath)
                api_key = self.string(kobj, "api_key", kpath)
                env = self.choice(kobj, "environment", kpath, TRIGON_ENVIRONMENTS, "production")
                if id_token in id_tokens:
                    self.bad(f"{kpath}.id_token", "is used by another API key")
                elif id_token and api_key and env:
                    id_tokens.add(id_token)
                    api_keys.append(SeedApiKey(id_token, api_key, env))
            if email and password:
                users.append(
                    SeedUser(
                        email=email,
                        password=password,
                        name=self.string(obj, "name", path, required=False, default=None)
                        or email.split("@")[0].title(),
                        active=self.boolean(obj, "active", path, True),
                        removed=self.boolean(obj, "removed", path, False),
                        list=grants["list"],
                        view=grants["view"],
                        deny_list=grants["deny_list"],
                        deny_view=grants["deny_view"],
                        api_keys=tuple(api_keys),
                    )
                )

        records: list[SeedRecord] = []
        for i, path, obj in self.objects(raw, "records", p):
            fid = firm_ref(obj, path)
            rtype = self.choice(obj, "type", path, RECORD_TYPES)
            created = self.timestamp(obj.get("created_at"), f"{path}.created_at")
            updated = (
                self.timestamp(obj["updated_at"], f"{path}.updated_at")
                if obj.get("updated_at") is not None
                else created
            )
            if created and updated and updated < created:
                self.bad(f"{path}.updated_at", "is earlier than created_at")
            rid = self.string(obj, "id", path, required=False) or f"r{i + 1}"
            doc_date = self.date(obj, "date", path, required=False)
            if fid and rtype and created and updated:
                records.append(SeedRecord(fid, rtype, created, updated, rid, doc_date))

        persons: list[SeedReportingPerson] = []
        for _, path, obj in self.objects(raw, "reporting_persons", p):
            fid = firm_ref(obj, path)
            start = self.date(obj, "active_from", path)
            end = self.date(obj, "active_to", path, required=False)
            name = self.string(obj, "name", path, required=False)
            if fid and start:
                persons.append(SeedReportingPerson(fid, start, end, name))

        assets: list[SeedFixedAsset] = []
        for _, path, obj in self.objects(raw, "fixed_assets", p):
            fid = firm_ref(obj, path)
            start = self.date(obj, "depreciation_start", path)
            end = self.date(obj, "depreciation_end", path)
            name = self.string(obj, "name", path, required=False)
            if start and end and end < start:
                self.bad(f"{path}.depreciation_end", "is earlier than depreciation_start")
            if fid and start and end:
                assets.append(SeedFixedAsset(fid, start, end, name))

        return TrigonSeed(
            users=tuple(users),
            firms=tuple(firms),
            records=tuple(records),
            reporting_persons=tuple(persons),
            fixed_assets=tuple(assets),
            access_token_ttl=self.integer(
                raw, "access_token_ttl", p, required=False, default=DEFAULT_ACCESS_TTL, minimum=1
            )
            or DEFAULT_ACCESS_TTL,
            refresh_token_ttl=self.integer(
                raw, "refresh_token_ttl", p, required=False, default=DEFAULT_REFRESH_TTL, minimum=1
            )
            or DEFAULT_REFRESH_TTL,
        )

    def uku(self, raw: Mapping[str, Any]) -> UkuSeed:
        p = "$.uku"

        def unique_ids(kind: str, rows: list[dict[str, Any]]) -> set[int]:
            seen: set[int] = set()
            for i, row in enumerate(rows):
                if row["id"] in seen:
                    self.bad(f"{p}.{kind}[{i}].id", f"duplicate id {row['id']}")
                seen.add(row["id"])
            return seen

        members = []
        for _, path, obj in self.objects(raw, "members", p):
            mid = self.integer(obj, "id", path, minimum=1)
            email = self.string(obj, "email", path)
            if mid is not None and email:
                members.append(
                    {
                        "id": mid,
                        "email": email,
                        "name": self.string(obj, "name", path, required=False)
                        or email.split("@")[0].title(),
                        "role": self.choice(obj, "role", path, UKU_ROLES, "member"),
                    }
                )
        member_ids = unique_ids("members", members)

        clients = []
        for _, path, obj in self.objects(raw, "clients", p):
            cid = self.integer(obj, "id", path, minimum=1)
            name = self.string(obj, "name", path)
            manager = self.integer(obj, "manager_id", path, required=False, nullable=True)
            if manager is not None and manager not in member_ids:
                self.bad(f"{path}.manager_id", f"unknown member id {manager}")
            if cid is not None and name:
                clients.append(
                    {
                        "id": cid,
                        "name": name,
                        "registration_code": self.string(
                            obj, "registration_code", path, required=False, nullable=True
                        ),
                        "vat_number": self.string(
                            obj, "vat_number", path, required=False, nullable=True
                        ),
                        "country": self.string(obj, "country", path, required=False) or "EE",
                        "manager_id": manager,
                    }
                )
        client_ids = unique_ids("clients", clients)

        topics = []
        for _, path, obj in self.objects(raw, "topics", p):
            tid = self.integer(obj, "id", path, minimum=1)
            name = self.string(obj, "name", path)
            if tid is not None and name:
                topics.append({"id": tid, "name": name})
        topic_ids = unique_ids("topics", topics)

        fields = []
        for _, path, obj in self.objects(raw, "custom_fields", p):
            fid = self.integer(obj, "id", path, minimum=1)
            name = self.string(obj, "name", path)
            ftype = self.choice(obj, "type", path, UKU_FIELD_TYPES)
            entity = self.choice(obj, "entity", path, UKU_ENTITIES, "task")
            if fid is not None and name and ftype and entity:
                fields.append({"id": fid, "name": name, "type": ftype, "entity": entity})
        unique_ids("custom_fields", fields)
        task_field_ids = {f["id"] for f in fields if f["entity"] == "task"}

        tasks = []
        for _, path, obj in self.objects(raw, "tasks", p):
            tid = self.integer(obj, "id", path, minimum=1)
            title = self.string(obj, "title", path)
            client_id = self.integer(obj, "client_id", path)
            topic_id = self.integer(obj, "topic_id", path, required=False, nullable=True)
            when = self.date(obj, "date", path)
            if client_id is not None and client_id not in client_ids:
                self.bad(f"{path}.client_id", f"unknown client id {client_id}")
            if topic_id is not None and topic_id not in topic_ids:
                self.bad(f"{path}.topic_id", f"unknown topic id {topic_id}")
            values = []
            for _, cf_path, cf_obj in self.objects(obj, "custom_fields", path):
                field_id = self.integer(cf_obj, "field_id", cf_path)
                if field_id is not None and field_id not in task_field_ids:
                    self.bad(f"{cf_path}.field_id", f"unknown task field {field_id}")
                values.append({"field_id": field_id, "value": cf_obj.get("value")})
            if tid is not None and title and client_id is not None and when:
                tasks.append(
                    {
                        "id": tid,
                        "title": title,
                        "client_id": client_id,
                        "topic_id": topic_id,
                        "date": when.isoformat(),
                        "status": self.choice(obj, "status", path, UKU_TASK_STATUSES, "new"),
                        "description": self.string(
                            obj, "description", path, required=False, nullable=True
                        ),
                        "custom_fields": values,
                    }
                )
        unique_ids("tasks", tasks)

        return UkuSeed(
            company=self.string(raw, "company", p) or "",
            api_key=self.string(raw, "api_key", p) or "",
            plan=self.choice(raw, "plan", p, UKU_PLANS, "team") or "team",
            api_key_role=self.choice(raw, "api_key_role", p, UKU_ROLES, "admin") or "admin",
            complete_endpoint=self.boolean(raw, "complete_endpoint", p, True),
            clients=tuple(clients),
            topics=tuple(topics),
            custom_fields=tuple(fields),
            members=tuple(members),
            tasks=tuple(tasks),
        )

    def register(self, top: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
        rows = []
        for _, path, obj in self.objects(top, "register", "$"):
            code = self.string(obj, "registration_code", path)
            name = self.string(obj, "name", path)
            status = self.choice(obj, "status", path, REGISTER_STATUSES)
            extra = {}
            for key in ("kmkr_nr", "first_entry_date", "address"):
                value = self.string(obj, key, path, required=False, nullable=True)
                if value:
                    extra[key] = value
            if "first_entry_date" in extra:
                try:
                    dt.datetime.strptime(extra["first_entry_date"], "%d.%m.%Y")  # noqa: DTZ007 - a date, no time
                except ValueError:
                    self.bad(f"{path}.first_entry_date", "must be dd.mm.yyyy")
            if code and name and status:
                rows.append({"registration_code": code, "name": name, "status": status, **extra})
        return tuple(rows)


def _raise() -> Any:
    raise TypeError("wrong type")

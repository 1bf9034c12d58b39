"""A realistic, deterministic seed for N firms: the data the real services would show us.

Same ``n_firms`` + ``seed`` -> the same JSON, byte for byte. Records spread over
2024-09..2025-06 with the awkward cases the counting semantics must survive: timestamps
near midnight (some written in UTC, so the UTC date differs from the Tallinn date), the
DST weekends (2024-10-27, 2025-03-30), Estonian public holidays, back-dated documents,
records edited later and records never edited (``updated_at == created_at``).

From 20 firms up the seed also carries the import's trouble cases, exactly as many as
the knobs say (defaults in :data:`DEFAULT_ANOMALIES`; docs/sandbox.md lists them), and
names the firms involved under the top-level ``anomalies`` key so tests need not guess.
The random values themselves are drawn in ``seed_draws.py``; this module assembles them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from stdnum.ee import registrikood

from trigon_sync.sandbox.seed_draws import SeedDraws
from trigon_sync.sandbox.vocabulary import respell

SANDBOX_EMAIL = "admin@firm.ee"
SANDBOX_PASSWORD = "sandbox-password"
SANDBOX_ID_TOKEN = "tid-sandbox-admin-0000"
SANDBOX_API_KEY = "tak-sandbox-key-0000"
SANDBOX_TEST_ID_TOKEN = "tid-sandbox-admin-test-0000"
SANDBOX_TEST_API_KEY = "tak-sandbox-test-key-0000"
SANDBOX_UKU_KEY = "uku-sandbox-key-0000"
SANDBOX_COMPANY = "5b0e3c2a-7f4d-4c1e-9a8b-1d2e3f4a5b6c"
INACTIVE_EMAIL = "inactive@firm.ee"
REMOVED_EMAIL = "former@firm.ee"

PERIOD_START = dt.date(2024, 9, 1)
PERIOD_END = dt.date(2025, 6, 30)

#: anomaly knob -> how many the seed carries when n_firms >= 20 (0 below that).
DEFAULT_ANOMALIES: dict[str, int] = {
    "duplicate_codes": 1,  # pairs of Trigon firms sharing one registration code
    "bad_check_digits": 1,  # firms whose code fails the check digit
    "missing_from_register": 3,  # valid codes absent from the register
    "existing_uku_clients": 2,  # Trigon firms already in Uku (same code, other spelling)
    "no_view": 2,  # firms listed for admin@firm.ee without View
    "inactive_users": 1,
    "removed_users": 1,
    "spaced_codes": 0,  # valid codes typed with spaces ("123 456 78")
    "liquidating": 0,  # register status L
    "bankrupt": 0,  # register status N
}
ANOMALY_THRESHOLD = 20

#: Uku custom-field names: the integration's English labels (help page, "Available fields").
COUNT_FIELD_NAMES: tuple[str, ...] = (
    "Payment created",
    "Payment updated",
    "Purchase invoice created",
    "Purchase invoice updated",
    "Sales invoice created",
    "Sales invoice updated",
    "Financial entry created",
    "Financial entry updated",
    "Expense line created",
    "Expense line updated",
    "Fixed-asset depreciation entry created",
    "Fixed-asset depreciation entry updated",
    "Active reporting persons",
    "Depreciable fixed assets",
)


def generate_seed(n_firms: int, seed: int = 0, **knobs: Any) -> dict[str, Any]:
    """A JSON-ready seed for ``n_firms`` Trigon firms (see module docstring and docs/sandbox.md).

    Knobs: the keys of :data:`DEFAULT_ANOMALIES`, plus ``register_extra`` (register rows for
    companies not in Trigon, default 10), ``records_scale`` (multiplies record volume,
    default 1.0), ``start``/``end`` (record period, dates), ``unrelated_tasks`` (the Uku
    company's other work: that many tasks in other topics, spread over the years before
    ``start``, made up on demand by the sandbox; default 0).
    """
    if n_firms < 0:
        raise ValueError("n_firms must not be negative")
    return _Generator(n_firms, seed, knobs).build()


class _Generator(SeedDraws):
    """Assembles the seed: the firms, the trouble cases the knobs ask for, both services."""

    def __init__(self, n_firms: int, seed: int, knobs: dict[str, Any]) -> None:
        extra = {"register_extra", "records_scale", "start", "end", "unrelated_tasks"}
        unknown = sorted(set(knobs) - set(DEFAULT_ANOMALIES) - extra)
        if unknown:
            raise TypeError(f"unknown generate_seed knobs: {', '.join(unknown)}")
        base = n_firms >= ANOMALY_THRESHOLD
        self.n = n_firms
        self.counts = {k: int(knobs.get(k, v if base else 0)) for k, v in DEFAULT_ANOMALIES.items()}
        self.register_extra = int(knobs.get("register_extra", 10))
        self.unrelated = int(knobs.get("unrelated_tasks", 0))
        scale = float(knobs.get("records_scale", 1.0))
        start: dt.date = knobs.get("start", PERIOD_START)
        end: dt.date = knobs.get("end", PERIOD_END)
        need = (
            2 * self.counts["duplicate_codes"]
            + self.counts["bad_check_digits"]
            + self.counts["missing_from_register"]
            + self.counts["existing_uku_clients"]
            + self.counts["spaced_codes"]
            + self.counts["liquidating"]
            + self.counts["bankrupt"]
            + self.counts["no_view"]
        )
        if need > n_firms:
            raise ValueError(f"{n_firms} firms are too few for the requested anomalies")
        super().__init__(seed, start, end, scale)
        self.first_record = start

    # -- sections -----------------------------------------------------------------------

    def _unrelated_tasks(self) -> dict[str, Any]:
        """``uku.unrelated_tasks`` when asked for: five years of other work up to the day
        before the records start (so none falls in a monthly run's window)."""
        if not self.unrelated:
            return {}
        last = self.first_record - dt.timedelta(days=1)
        first = last.replace(year=last.year - 5)
        spec = {"count": self.unrelated, "first": first.isoformat(), "last": last.isoformat()}
        return {"unrelated_tasks": spec}

    def build(self) -> dict[str, Any]:
        rng = self.rng
        firms: list[dict[str, Any]] = []
        forms: list[str] = []
        for i in range(self.n):
            name, form = self.name()
            forms.append(form)
            has_vat = rng.random() < (0.2 if form == "MTÜ" else 0.8)
            firms.append(
                {
                    "id": f"f{i + 1}",
                    "name": name,
                    "registration_code": self.code("8" if form == "MTÜ" else "1"),
                    "vat_number": self.vat() if has_vat else None,
                }
            )

        order = list(range(self.n))
        rng.shuffle(order)
        take = iter(order)

        def pick(k: int) -> list[int]:
            return [next(take) for _ in range(k)]

        c = self.counts
        dup_pairs = [pick(2) for _ in range(c["duplicate_codes"])]
        bad = pick(c["bad_check_digits"])
        missing = pick(c["missing_from_register"])
        existing = pick(c["existing_uku_clients"])
        spaced = pick(c["spaced_codes"])
        liquidating = pick(c["liquidating"])
        bankrupt = pick(c["bankrupt"])
        no_view = sorted(pick(c["no_view"]))

        for a, b in dup_pairs:
            firms[b]["registration_code"] = firms[a]["registration_code"]
        for i in bad:
            code = firms[i]["registration_code"]
            firms[i]["registration_code"] = code[:-1] + str(
                (int(code[-1]) + 1 + rng.randrange(9)) % 10
            )
            if registrikood.is_valid(firms[i]["registration_code"]):  # pragma: no cover
                raise RuntimeError("a changed check digit must not validate")
        for i in spaced:
            code = firms[i]["registration_code"]
            firms[i]["registration_code"] = f"{code[:3]} {code[3:6]} {code[6:]}"

        records, persons, assets = self.activity(firms)
        firm_ids = [f["id"] for f in firms]
        no_view_ids = [firm_ids[i] for i in no_view]
        users = [
            {
                "email": SANDBOX_EMAIL,
                "password": SANDBOX_PASSWORD,
                "name": "Sandbox Admin",
                "active": True,
                "list": ["*"],
                "view": ["*"],
                "deny_view": no_view_ids,
                "api_keys": [
                    {"id_token": SANDBOX_ID_TOKEN, "api_key": SANDBOX_API_KEY},
                    {
                        "id_token": SANDBOX_TEST_ID_TOKEN,
                        "api_key": SANDBOX_TEST_API_KEY,
                        "environment": "test",
                    },
                ],
            }
        ]
        inactive = [INACTIVE_EMAIL] + [
            f"inactive{k}@firm.ee" for k in range(2, c["inactive_users"] + 1)
        ]
        removed = [REMOVED_EMAIL] + [f"former{k}@firm.ee" for k in range(2, c["removed_users"] + 1)]
        for email in inactive[: c["inactive_users"]]:
            users.append(
                {
                    "email": email,
                    "password": SANDBOX_PASSWORD,
                    "name": "Inactive User",
                    "active": False,
                    "list": ["*"],
                    "view": ["*"],
                }
            )
        for email in removed[: c["removed_users"]]:
            users.append(
                {
                    "email": email,
                    "password": SANDBOX_PASSWORD,
                    "name": "Former Employee",
                    "active": True,
                    "removed": True,
                    "list": ["*"],
                    "view": ["*"],
                }
            )

        uku_clients = []
        for k, i in enumerate(existing):
            uku_clients.append(
                {
                    "id": 101 + k,
                    "name": respell(firms[i]["name"], k),
                    "registration_code": firms[i]["registration_code"],
                    "vat_number": firms[i]["vat_number"],
                    "country": "EE",
                    "manager_id": 2,
                }
            )
        if self.n:
            uku_clients.append(
                {
                    "id": 101 + len(existing),
                    "name": "Kohvik Mõnus OÜ",
                    "registration_code": self.code("1"),
                    "vat_number": None,
                    "country": "EE",
                    "manager_id": 2,
                }
            )

        excluded = {*bad, *missing, *(b for _, b in dup_pairs)}
        status_of = {**dict.fromkeys(liquidating, "L"), **dict.fromkeys(bankrupt, "N")}
        register = []
        for i, firm in enumerate(firms):
            if i in excluded:
                continue
            register.append(
                self.register_row(
                    firm["name"],
                    firm["registration_code"].replace(" ", ""),
                    firm["vat_number"],
                    status_of.get(i, "R"),
                )
            )
        for _ in range(self.register_extra):
            name, form = self.name()
            register.append(
                self.register_row(
                    name,
                    self.code("8" if form == "MTÜ" else "1"),
                    self.vat() if rng.random() < 0.5 else None,
                    rng.choice(("R", "R", "R", "L", "N")),
                )
            )

        return {
            "trigon": {
                "users": users,
                "firms": firms,
                "records": records,
                "reporting_persons": persons,
                "fixed_assets": assets,
                "access_token_ttl": 900,
                "refresh_token_ttl": 30 * 24 * 3600,
            },
            "uku": {
                "company": SANDBOX_COMPANY,
                "api_key": SANDBOX_UKU_KEY,
                "plan": "team",
                "api_key_role": "admin",
                "complete_endpoint": True,
                "clients": uku_clients,
                "topics": [
                    {"id": 1, "name": "Bookkeeping"},
                    {"id": 2, "name": "Payroll"},
                    {"id": 3, "name": "Annual report"},
                ],
                "custom_fields": [
                    *(
                        {"id": 10 + k, "name": name, "type": "number", "entity": "task"}
                        for k, name in enumerate(COUNT_FIELD_NAMES)
                    ),
                    {
                        "id": 10 + len(COUNT_FIELD_NAMES),
                        "name": "Notes",
                        "type": "text",
                        "entity": "task",
                    },
                ],
                "members": [
                    {"id": 1, "email": "owner@firm.ee", "name": "Olev Omanik", "role": "owner"},
                    {"id": 2, "email": "manager@firm.ee", "name": "Mari Mänd", "role": "admin"},
                    {"id": 3, "email": "assistant@firm.ee", "name": "Andres Abi", "role": "member"},
                ],
                "tasks": [],
                **self._unrelated_tasks(),
            },
            "register": register,
            "anomalies": {
                "duplicate_code": [[firm_ids[a], firm_ids[b]] for a, b in dup_pairs],
                "bad_check_digit": [firm_ids[i] for i in bad],
                "missing_from_register": [firm_ids[i] for i in missing],
                "existing_uku_clients": [
                    {"firm": firm_ids[i], "client_id": 101 + k} for k, i in enumerate(existing)
                ],
                "no_view": no_view_ids,
                "inactive_users": inactive[: c["inactive_users"]],
                "removed_users": removed[: c["removed_users"]],
                "spaced_codes": [firm_ids[i] for i in spaced],
                "liquidating": [firm_ids[i] for i in liquidating],
                "bankrupt": [firm_ids[i] for i in bankrupt],
            },
        }

"""One seeded random stream and everything a sandbox seed draws from it.

Codes, VAT numbers, names and people; days and moments (near midnight, on the DST
weekends and holidays, some written in UTC); each firm's records, reporting persons and
fixed assets; register rows. The generator (``generator.py``) assembles the seed from
these draws; the order of the draws is what makes a seed the same byte for byte, so a
change here changes every generated seed.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from stdnum.ee import registrikood
from workalendar.europe import Estonia

from trigon_sync.clock import TALLINN
from trigon_sync.sandbox.vocabulary import (
    FIRST_NAMES,
    LAST_NAMES,
    PLACES,
    SOCIETIES,
    STREETS,
    TOWNS,
    TRADES,
)

DST_DAYS = (dt.date(2024, 10, 27), dt.date(2025, 3, 30))

_TYPE_PREFIX = {
    "payment": "pay",
    "purchase_invoice": "pi",
    "sales_invoice": "si",
    "financial_entry": "fe",
    "expense_line": "el",
    "depreciation_entry": "de",
}


class SeedDraws:
    """The random stream (``seed``) and the values already used (codes and names are unique)."""

    def __init__(self, seed: int, start: dt.date, end: dt.date, scale: float) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.end = end
        self.scale = scale
        self.used_codes: set[str] = set()
        self.used_names: set[str] = set()
        self.holidays = [
            day
            for year in range(self.start.year, self.end.year + 1)
            for day, _ in Estonia().holidays(year)
            if self.start <= day <= self.end
        ]

    # -- identities ---------------------------------------------------------------------

    def code(self, first: str) -> str:
        while True:
            body = first + "".join(str(self.rng.randrange(10)) for _ in range(6))
            code = body + registrikood.calc_check_digit(body + "0")
            if code not in self.used_codes and registrikood.is_valid(code):
                self.used_codes.add(code)
                return code

    def vat(self) -> str:
        body = "10" + "".join(str(self.rng.randrange(10)) for _ in range(6))
        partial = sum(w * int(d) for w, d in zip((3, 7, 1, 3, 7, 1, 3, 7), body, strict=True))
        return f"EE{body}{(-partial) % 10}"

    def name(self) -> tuple[str, str]:
        for attempt in range(1000):
            roll = self.rng.random()
            if roll < 0.10:
                form, stem = "MTÜ", f"{self.rng.choice(PLACES)} {self.rng.choice(SOCIETIES)}"
            else:
                form = "AS" if roll < 0.25 else "OÜ"
                stem = f"{self.rng.choice(PLACES)} {self.rng.choice(TRADES)}"
            if attempt > 50:
                stem = f"{stem} {attempt}"
            name = (
                f"{stem} {form}" if form != "MTÜ" or self.rng.random() < 0.5 else f"{form} {stem}"
            )
            if name not in self.used_names:
                self.used_names.add(name)
                return name, form
        raise RuntimeError("ran out of firm names")

    def person(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    # -- time ---------------------------------------------------------------------------

    def day(self) -> dt.date:
        roll = self.rng.random()
        if roll < 0.05:
            return self.rng.choice(DST_DAYS)
        if roll < 0.10 and self.holidays:
            return self.rng.choice(self.holidays)
        if roll < 0.18:  # month ends: where windows cut
            month = self.rng.randrange(12)
            y, m = divmod(self.start.month - 1 + month, 12)
            first_next = dt.date(self.start.year + y + (m + 1) // 12, (m + 1) % 12 + 1, 1)
            day = first_next - dt.timedelta(days=self.rng.choice((1, 2)))
            if self.start <= day <= self.end:
                return day
        span = (self.end - self.start).days
        return self.start + dt.timedelta(days=self.rng.randrange(span + 1))

    def moment(self, day: dt.date) -> dt.datetime:
        roll = self.rng.random()
        if roll < 0.15:
            t = dt.time(23, self.rng.randrange(45, 60), self.rng.randrange(60))
        elif roll < 0.30:
            t = dt.time(0, self.rng.randrange(0, 15), self.rng.randrange(60))
        else:
            t = dt.time(self.rng.randrange(7, 20), self.rng.randrange(60), self.rng.randrange(60))
        local = dt.datetime.combine(day, t, tzinfo=TALLINN).replace(fold=self.rng.randrange(2))
        return local.astimezone(TALLINN)

    def stamp(self, moment: dt.datetime) -> str:
        if self.rng.random() < 0.2:
            return moment.astimezone(dt.UTC).isoformat()
        return moment.isoformat()

    # -- activity -----------------------------------------------------------------------

    def activity(
        self, firms: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        rng = self.rng
        records: list[dict[str, Any]] = []
        persons: list[dict[str, Any]] = []
        assets: list[dict[str, Any]] = []
        for firm in firms:
            size = rng.choice((0.3, 1.0, 1.0, 2.5)) * self.scale
            for rtype, prefix in _TYPE_PREFIX.items():
                n = int(rng.triangular(0, 30, 6) * size)
                for k in range(n):
                    records.append(self.record(firm["id"], rtype, f"{firm['id']}-{prefix}{k + 1}"))
            for _ in range(rng.randint(1, 4)):
                start = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3800))
                ended = rng.random() < 0.25
                end = start + dt.timedelta(days=rng.randrange(30, 900)) if ended else None
                persons.append(
                    {
                        "firm": firm["id"],
                        "name": self.person(),
                        "active_from": start.isoformat(),
                        "active_to": end.isoformat() if end else None,
                    }
                )
            for k in range(rng.randint(0, 5)):
                start = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(2300))
                end = start + dt.timedelta(days=365 * rng.randint(1, 8) - 1)
                assets.append(
                    {
                        "firm": firm["id"],
                        "name": f"Põhivara {k + 1}",
                        "depreciation_start": start.isoformat(),
                        "depreciation_end": end.isoformat(),
                    }
                )
        return records, persons, assets

    def record(self, firm_id: str, rtype: str, rid: str) -> dict[str, Any]:
        rng = self.rng
        created = self.moment(self.day())
        roll = rng.random()
        if roll < 0.65:
            updated = created
        elif roll < 0.75:
            updated = created + dt.timedelta(minutes=rng.randrange(1, 600))
        elif roll < 0.92:
            updated = self.moment(created.date() + dt.timedelta(days=rng.randrange(1, 25)))
        else:
            updated = self.moment(created.date() + dt.timedelta(days=rng.randrange(25, 70)))
        if updated < created:
            updated = created + dt.timedelta(seconds=1)
        doc_day = created.date()
        if rng.random() < 0.12:  # back-dated: booked today for a document weeks old
            doc_day -= dt.timedelta(days=rng.randrange(15, 90))
        created_s = self.stamp(created)
        return {
            "id": rid,
            "firm": firm_id,
            "type": rtype,
            "date": doc_day.isoformat(),
            "created_at": created_s,
            "updated_at": created_s if updated == created else self.stamp(updated),
        }

    def register_row(self, name: str, code: str, vat: str | None, status: str) -> dict[str, str]:
        town, district, county = self.rng.choice(TOWNS)
        first = dt.date(1995, 1, 1) + dt.timedelta(days=self.rng.randrange(10000))
        row = {
            "registration_code": code,
            "name": name,
            "status": status,
            "first_entry_date": first.strftime("%d.%m.%Y"),
            "address": f"{county}, {town}, {district}, {self.rng.choice(STREETS)} "
            f"{self.rng.randint(1, 120)}",
        }
        if vat:
            row["kmkr_nr"] = vat
        return row

"""Counting semantics at the edges, through the sandbox's /count endpoint.

docs/trigon-api.md: created/updated by the Europe/Tallinn local date of the timestamp,
windows inclusive, and an update only when updated_at is strictly later than created_at.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from trigon_sync.clock import TALLINN
from trigon_sync.sandbox import (
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SandboxWorld,
    SyncASGITransport,
    generate_seed,
    make_trigon_app,
)

SEED: dict[str, Any] = {
    "trigon": {
        "users": [{"email": SANDBOX_EMAIL, "password": SANDBOX_PASSWORD}],
        "firms": [{"id": "f1", "name": "Alpha OÜ", "registration_code": "10137319"}],
    },
    "uku": {"company": "c", "api_key": "k"},
}


@pytest.fixture
def edge_world() -> SandboxWorld:
    return SandboxWorld(SEED)


@pytest.fixture
def count(edge_world: SandboxWorld) -> Iterator[Any]:
    """count(type, event, start, end) over HTTP against ``edge_world``."""
    transport = SyncASGITransport(make_trigon_app(edge_world))
    client = httpx.Client(transport=transport, base_url="http://trigon.test/v1")
    token = client.post(
        "/auth/login", json={"email": SANDBOX_EMAIL, "password": SANDBOX_PASSWORD}
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"

    def run(event: str, start: str, end: str, collection: str = "sales-invoices") -> int:
        answer = client.get(
            f"/firms/f1/{collection}/count",
            params={f"{event}_from": start, f"{event}_to": end},
        )
        answer.raise_for_status()
        return int(answer.json()["data"]["count"])

    yield run
    client.close()
    transport.close()


def test_last_second_of_the_window_counts(edge_world: SandboxWorld, count: Any) -> None:
    """23:59:59+03:00 on the window's last day is inside the window."""
    edge_world.add_record("f1", "sales_invoice", "2024-10-30T23:59:59+03:00")
    assert count("created", "2024-10-01", "2024-10-30") == 1


def test_midnight_of_the_next_day_does_not_count(edge_world: SandboxWorld, count: Any) -> None:
    """00:00:00+02:00 on the day after the window belongs to the next window."""
    edge_world.add_record("f1", "sales_invoice", "2024-10-31T00:00:00+02:00")
    assert count("created", "2024-10-01", "2024-10-30") == 0
    assert count("created", "2024-10-31", "2024-11-29") == 1


def test_utc_timestamps_use_the_tallinn_date(edge_world: SandboxWorld, count: Any) -> None:
    """22:30Z on 30 Sep is 01:30 on 1 Oct in Tallinn: it counts for October, not September."""
    edge_world.add_record("f1", "sales_invoice", "2024-09-30T22:30:00+00:00")
    assert count("created", "2024-09-01", "2024-09-30") == 0
    assert count("created", "2024-10-01", "2024-10-31") == 1


@pytest.mark.parametrize(
    ("stamp", "day"),
    [
        ("2024-10-27T02:59:59+03:00", "2024-10-27"),  # last summer second
        ("2024-10-27T03:00:00+02:00", "2024-10-27"),  # the repeated hour, winter side
        ("2024-10-26T21:30:00+00:00", "2024-10-27"),  # 00:30 local, UTC date a day earlier
        ("2024-10-27T22:30:00+00:00", "2024-10-28"),  # after the change: +02:00
        ("2025-03-30T02:59:59+02:00", "2025-03-30"),  # just before the spring gap
        ("2025-03-30T04:00:00+03:00", "2025-03-30"),  # just after it
        ("2025-03-29T22:00:00+00:00", "2025-03-30"),  # 00:00 local on the gap day
        ("2025-03-30T21:00:00+00:00", "2025-03-31"),  # 00:00+03:00 next day
    ],
)
def test_dst_weekends(edge_world: SandboxWorld, count: Any, stamp: str, day: str) -> None:
    """Around both DST changes the Tallinn date decides, whatever offset was written."""
    edge_world.add_record("f1", "sales_invoice", stamp)
    assert count("created", day, day) == 1
    before = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
    assert count("created", before, before) == 0


def test_update_equal_to_creation_is_not_an_update(edge_world: SandboxWorld, count: Any) -> None:
    """A record never edited (updated_at == created_at) counts as created, never updated."""
    edge_world.add_record("f1", "sales_invoice", "2024-10-05T10:00:00+03:00")
    edge_world.add_record(
        "f1", "sales_invoice", "2024-10-05T10:00:00+03:00", "2024-10-05T07:00:00+00:00"
    )
    assert count("created", "2024-10-01", "2024-10-31") == 2
    assert count("updated", "2024-10-01", "2024-10-31") == 0


def test_update_counts_in_the_window_of_its_own_date(edge_world: SandboxWorld, count: Any) -> None:
    """A later edit counts as updated in the window of updated_at, not of created_at."""
    edge_world.add_record(
        "f1", "sales_invoice", "2024-10-30T12:00:00+02:00", "2024-10-31T00:00:01+02:00"
    )
    edge_world.add_record(
        "f1", "sales_invoice", "2024-10-05T10:00:00+03:00", "2024-10-05T10:00:01+03:00"
    )
    assert count("updated", "2024-10-01", "2024-10-30") == 1
    assert count("updated", "2024-10-31", "2024-11-29") == 1


def test_types_are_counted_separately(edge_world: SandboxWorld, count: Any) -> None:
    """A payment does not count as a sales invoice."""
    edge_world.add_record("f1", "payment", "2024-10-05T10:00:00+03:00")
    assert count("created", "2024-10-01", "2024-10-31") == 0
    assert count("created", "2024-10-01", "2024-10-31", "payments") == 1


def test_generated_seed_counts_match_an_independent_count() -> None:
    """For a generated seed, /count equals a naive recount of the seed's records."""
    seed = generate_seed(12, seed=3)
    world = SandboxWorld(seed)
    start, end = dt.date(2024, 10, 31), dt.date(2024, 11, 29)

    def local(stamp: str) -> dt.date:
        return dt.datetime.fromisoformat(stamp).astimezone(TALLINN).date()

    for firm in ("f1", "f5", "f12"):
        for rtype in ("payment", "sales_invoice", "expense_line"):
            rows = [r for r in seed["trigon"]["records"] if (r["firm"], r["type"]) == (firm, rtype)]
            created = sum(start <= local(r["created_at"]) <= end for r in rows)
            updated = sum(
                start <= local(r["updated_at"]) <= end
                and dt.datetime.fromisoformat(r["updated_at"])
                > dt.datetime.fromisoformat(r["created_at"])
                for r in rows
            )
            assert world.trigon.count(firm, rtype, "created", start, end) == created
            assert world.trigon.count(firm, rtype, "updated", start, end) == updated

"""A busy sandbox Uku company: unrelated tasks made up on demand, listed like stored ones.

The seed's ``uku.unrelated_tasks`` (sandbox/unrelated_tasks.py) adds N tasks in other
topics over years without storing them; the listing pages, filters and orders them with
the stored tasks as if they were stored, and the quirk switches drop what the real Uku
may drop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from trigon_sync.sandbox import SANDBOX_COMPANY, SANDBOX_UKU_KEY, SandboxWorld, generate_seed
from trigon_sync.sandbox.behaviour import CONTRACT, PRODUCTION_LIKE, UkuBehaviour
from trigon_sync.sandbox.uku_app import make_uku_app
from trigon_sync.sandbox.unrelated_tasks import FIRST_ID, UnrelatedTasks

HEADERS = {"X-API-Key": SANDBOX_UKU_KEY, "X-Uku-Company": SANDBOX_COMPANY}
MANY = 100_000
OURS = {
    "title": "Monthly summary 2024-10",
    "client_id": 101,
    "topic_id": 1,
    "date": "2024-10-31",
    "description": "trigon-sync-task:0123456789abcdef:2024-10:101",
    "custom_fields": [],
}


@pytest.fixture
def sandbox_seed_dict() -> dict[str, Any]:
    return generate_seed(20, seed=7, unrelated_tasks=MANY)


@pytest.fixture
def uku(
    sandbox_world: SandboxWorld, asgi_transport: Callable[[Any], Any]
) -> Iterator[Callable[[UkuBehaviour], httpx.Client]]:
    """An in-process Uku client over the world, behaving as asked."""
    made: list[httpx.Client] = []

    def client(behaviour: UkuBehaviour = CONTRACT) -> httpx.Client:
        app = make_uku_app(sandbox_world, behaviour=behaviour)
        made.append(
            httpx.Client(
                transport=asgi_transport(app), base_url="http://uku.test/api/v3", headers=HEADERS
            )
        )
        return made[-1]

    yield client
    for one in made:
        one.close()


def listing(client: httpx.Client, **params: Any) -> dict[str, Any]:
    answer = client.get("/tasks", params={"limit": 200, **params})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_unrelated_tasks_are_listed_not_stored(
    sandbox_world: SandboxWorld, uku: Callable[[UkuBehaviour], httpx.Client]
) -> None:
    """100,000 unrelated tasks are in the listing's total and pages, and readable by id,
    but the world stores none of them (its state shows only real tasks)."""
    client = uku(CONTRACT)
    assert sandbox_world.uku_state()["tasks"] == []
    assert listing(client)["meta"]["total"] == MANY
    last = listing(client, offset=MANY - 200)["data"]
    assert [t["id"] for t in last] == list(range(FIRST_ID + MANY - 200, FIRST_ID + MANY))
    one = client.get(f"/tasks/{FIRST_ID + 7}").json()["data"]
    assert one == last[0] | {"id": FIRST_ID + 7, **_row(7)}
    assert client.patch(f"/tasks/{FIRST_ID + 7}", json={"status": "new"}).status_code == 404


def _row(index: int) -> dict[str, Any]:
    spec = UnrelatedTasks(MANY, dt.date(2019, 8, 31), dt.date(2024, 8, 31))
    return spec.row(index)


def test_newest_first_merges_created_tasks_with_the_unrelated_ones(
    uku: Callable[[UkuBehaviour], httpx.Client],
) -> None:
    """``sort=-created_at`` lists a task created now first, then the unrelated ones from
    the newest down, across pages; without sort it comes last, in id order."""
    client = uku(CONTRACT)
    made = client.post("/tasks", json=OURS).json()["data"]
    assert made["id"] >= FIRST_ID + MANY and made["created_at"].endswith("Z")
    first, second = (listing(client, sort="-created_at", offset=o)["data"] for o in (0, 200))
    rows = first + second
    assert rows[0]["id"] == made["id"]
    created = [r["created_at"] for r in rows]
    assert created == sorted(created, reverse=True) and len(set(created)) == len(created)
    newest = FIRST_ID + MANY - 1
    assert [r["id"] for r in rows[1:]] == list(range(newest, newest - 399, -1))
    assert listing(client, offset=MANY)["data"][0]["id"] == made["id"]


def test_the_contract_filters_the_unrelated_tasks_as_if_stored(
    uku: Callable[[UkuBehaviour], httpx.Client],
) -> None:
    """client_id, topic_id, the date range and q narrow the unrelated tasks exactly as a
    filter over every row would."""
    client = uku(CONTRACT)
    rows = [_row(i) for i in range(MANY)]
    cases: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
        ({"client_id": 800_007}, lambda r: r["client_id"] == 800_007),
        ({"topic_id": 900_002}, lambda r: r["topic_id"] == 900_002),
        (
            {"date_from": "2021-03-01", "date_to": "2021-03-31"},
            lambda r: "2021-03-01" <= r["date"] <= "2021-03-31",
        ),
        ({"q": "palga"}, lambda r: "palga" in r["title"].casefold()),
        ({"q": "trigon-sync-task:"}, lambda r: False),
        ({"status": "new"}, lambda r: False),
    ]
    for params, keep in cases:
        expected = [r for r in rows if keep(r)]
        answer = listing(client, **params)
        assert answer["meta"]["total"] == len(expected), params
        assert answer["data"] == expected[:200], params


def test_the_production_like_uku_drops_every_filter_but_keeps_sort(
    uku: Callable[[UkuBehaviour], httpx.Client],
) -> None:
    """Production-like: q, client_id, topic_id, status and the date range are ignored
    (the whole company comes back); ``sort`` still orders newest first."""
    client = uku(PRODUCTION_LIKE)
    params = {"client_id": 800_007, "topic_id": 900_002, "q": "palga", "status": "new"}
    dates = {"date_from": "2021-03-01", "date_to": "2021-03-31"}
    assert listing(client, **params, **dates)["meta"]["total"] == MANY
    assert listing(client, sort="-created_at")["data"][0]["id"] == FIRST_ID + MANY - 1


def test_the_sort_and_date_switches_each_drop_their_parameter(
    uku: Callable[[UkuBehaviour], httpx.Client],
) -> None:
    """``drop_sort`` lists in id order whatever is asked; ``drop_date_filters`` alone
    drops the date range and keeps the other filters."""
    unsorted = uku(CONTRACT.updated({"drop_sort": True}))
    assert listing(unsorted, sort="-created_at")["data"][0]["id"] == FIRST_ID
    no_dates = uku(CONTRACT.updated({"drop_date_filters": True}))
    answer = listing(no_dates, date_from="2021-03-01", date_to="2021-03-31", topic_id=900_002)
    assert answer["meta"]["total"] == MANY // 3 + (MANY % 3 > 1)
    bad = uku(CONTRACT).get("/tasks", params={"sort": "title"})
    assert bad.status_code == 400

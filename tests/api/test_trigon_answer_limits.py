"""Trigon answers that cannot be right: impossible counts, paging that never ends."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest

from tests.api.test_trigon_client import FakeTrigon, connected
from trigon_sync.errors import ApiError
from trigon_sync.store.secrets import FileStore
from trigon_sync.trigon.models import MAX_COUNT, ImpossibleCount

OCT = (dt.date(2024, 10, 1), dt.date(2024, 10, 31))


class OddTrigon(FakeTrigon):
    """FakeTrigon whose count answers and firm pages can be set to anything."""

    def __init__(self) -> None:
        super().__init__()
        self.count_value: object = 1
        self.stuck_pages = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1")
        if path.endswith("/count") and request.headers.get("authorization"):
            return httpx.Response(200, json={"data": {"count": self.count_value}})
        if path == "/firms" and self.stuck_pages:
            self.requests.append((request.method, path))
            return httpx.Response(
                200, json={"data": self.firms[:1], "pagination": {"total_pages": 10**9}}
            )
        return super().__call__(request)


@pytest.fixture
def odd(tmp_path: Path) -> tuple[OddTrigon, object]:
    fake = OddTrigon()
    return fake, connected(fake, FileStore(tmp_path / "t.toml"), tmp_path / "l.lock")


@pytest.mark.parametrize("value", [-1, MAX_COUNT + 1, 1.5, "12", True, None, [3]])
def test_a_count_that_is_not_a_plausible_integer_fails_with_a_reason(odd, value: object) -> None:
    """Negative, huge, fractional, text, boolean or missing counts are ApiError, not numbers."""
    fake, client = odd
    fake.count_value = value
    with pytest.raises(ImpossibleCount, match="count"):
        client.count("f1", "payments", "created", *OCT)


def test_plausible_counts_pass(odd) -> None:
    """0 and the bound itself are counts."""
    fake, client = odd
    for value in (0, MAX_COUNT):
        fake.count_value = value
        assert client.count("f1", "payments", "created", *OCT) == value


def test_a_firm_list_whose_pages_never_advance_stops_with_a_service_error(odd) -> None:
    """Page 2 repeating page 1 (and claiming 10^9 pages) ends at once, not never."""
    fake, client = odd
    fake.stuck_pages = True
    with pytest.raises(ApiError, match="does not advance"):
        client.list_firms()
    assert [p for _m, p in fake.requests if p == "/firms"] == ["/firms"] * 2

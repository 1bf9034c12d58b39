"""One home for secrets: every Secret registers itself, server text is scrubbed of it."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from tests.unit.test_http import FakeTime, scripted
from tests.unit.test_http_guards import session
from trigon_sync import redact
from trigon_sync.errors import ServiceUnavailable
from trigon_sync.http.session import ApiResponse, unexpected
from trigon_sync.store.secrets import Secret
from trigon_sync.store.state import State


def test_a_secret_registers_itself_and_is_scrubbed_longest_first() -> None:
    """Making a Secret is enough; a secret containing another is masked whole."""
    Secret("key-abcdef")
    Secret("key-abcdef-and-more")
    text = "got key-abcdef-and-more and key-abcdef"
    assert redact.scrub(text) == f"got {redact.MASK} and {redact.MASK}"
    assert redact.scrub_data({"a": ["key-abcdef", 3]}) == {"a": [redact.MASK, 3]}


def test_an_unexpected_answer_quoting_the_key_is_scrubbed() -> None:
    """Message, code and details of an error built from server text carry no secret."""
    Secret("uku_live_0123456789")
    body = {
        "error": {
            "code": "BAD uku_live_0123456789",
            "message": "key uku_live_0123456789 is wrong",
            "details": {"key": "uku_live_0123456789"},
        }
    }
    error = unexpected("Uku", ApiResponse(400, httpx.Headers(), body))
    assert "uku_live_0123456789" not in str(error) + str(error.code) + str(error.details)


def test_a_5xx_code_quoting_a_token_is_scrubbed() -> None:
    """ServiceUnavailable names the 5xx code, scrubbed (and cut short)."""
    Secret("tat_sometoken123")
    answer = httpx.Response(503, json={"error": {"code": "DOWN tat_sometoken123"}})
    handler, _ = scripted(answer)
    with pytest.raises(ServiceUnavailable) as caught:
        session(handler, FakeTime()).send("GET", "/x")
    assert "tat_sometoken123" not in str(caught.value) and "DOWN" in str(caught.value)


def test_history_records_are_scrubbed() -> None:
    """A failure reason quoting a password is stored masked in state history."""
    Secret("hunter2-password")
    state = State()
    entry = state.record(
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "run-monthly", "failed", error="pw hunter2-password"
    )
    assert entry.details["error"] == f"pw {redact.MASK}"

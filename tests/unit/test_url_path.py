"""url_path: an id is exactly one path segment, whatever it holds (issue 21, item 1)."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trigon_sync.http.url_path import api_path, path_segment, segment_value

BASE = "http://trigon.test/v1"
HOSTILE = ["f4/../f1", "f%32", "acme/6", "a b", "õ:ä?#", ".", "..", "%2E%2E", "a/./b", "?#"]


@given(st.one_of(st.text(min_size=1), st.sampled_from(HOSTILE), st.integers(min_value=0)))
def test_a_segment_is_one_segment_that_decodes_to_the_id(value: str | int) -> None:
    segment = path_segment(value)
    assert segment_value(segment) == str(value)
    assert segment.strip(".") != ""  # never a dot segment
    assert all(c.isascii() and (c.isalnum() or c in "-._~%") for c in segment)
    request = httpx.Request(
        "GET", BASE + api_path("firms", value, "payments", "count"), params={"a": "b"}
    )
    raw = request.url.raw_path.decode("ascii")
    path, _, query = raw.partition("?")
    assert query == "a=b"
    assert [segment_value(p) for p in path.split("/")[2:]] == [
        "firms",
        str(value),
        "payments",
        "count",
    ]


def test_an_empty_id_has_no_segment() -> None:
    with pytest.raises(ValueError, match="empty"):
        path_segment("")

"""The register download is bounded: size, total time, one at a time, nothing partial left."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.register_server import misbehaving_register
from trigon_sync.business_register.download import (
    ENV_DEADLINE,
    ENV_MAX_MB,
    DownloadLimits,
    download_client,
    download_lock,
    download_register,
)
from trigon_sync.business_register.file_format import REGISTER_ZIP_NAME
from trigon_sync.errors import AnswerRefused, BusyError, ServiceUnavailable

CAP = 256 * 1024


def leftovers(directory: Path) -> list[str]:
    """Files the download left in its folder (the isolated home also lives here)."""
    return sorted(p.name for p in directory.iterdir() if p.name not in ("download.lock", "home"))


def test_an_endless_body_stops_at_the_cap_and_leaves_nothing(tmp_path: Path) -> None:
    """A body that never ends writes at most the cap, then the partial file is removed."""
    with (
        misbehaving_register("endless") as served,
        download_client() as client,
        pytest.raises(AnswerRefused, match="sent more than the 262,144 bytes allowed"),
    ):
        download_register(
            served.url, client=client, dest_dir=tmp_path, limits=DownloadLimits(CAP, 10)
        )
    assert leftovers(tmp_path) == []


def test_a_declared_size_above_the_cap_is_refused_before_a_byte_is_written(
    tmp_path: Path,
) -> None:
    """Content-Length of 1 TB: refused at the headers."""
    with (
        misbehaving_register("declared") as served,
        download_client() as client,
        pytest.raises(AnswerRefused, match="announced"),
    ):
        download_register(
            served.url, client=client, dest_dir=tmp_path, limits=DownloadLimits(CAP, 10)
        )
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("gap", [0.1, 5.0])
def test_a_trickle_stops_at_the_total_deadline(tmp_path: Path, gap: float) -> None:
    """A byte per gap (each read well inside the read timeout) ends at the deadline, even
    while a read is waiting, and the partial file is removed."""
    with misbehaving_register("trickle", gap=gap) as served, download_client() as client:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match=r"took longer than 0\.6 s"):
            download_register(
                served.url, client=client, dest_dir=tmp_path, limits=DownloadLimits(CAP, 0.6)
            )
        assert time.monotonic() - started < 1.5
    assert leftovers(tmp_path) == []


def test_a_second_download_does_not_wait_for_the_first(tmp_path: Path) -> None:
    """While one run downloads, another is refused at once and the file is untouched."""
    target = tmp_path / REGISTER_ZIP_NAME
    target.write_bytes(b"the older file")
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with download_lock(tmp_path):
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(5)
    try:
        with download_client() as client, pytest.raises(BusyError, match="downloading"):
            download_register("http://127.0.0.1:9/x.zip", client=client, dest_dir=tmp_path)
    finally:
        release.set()
        thread.join()
    assert target.read_bytes() == b"the older file"


def test_the_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The two variables lower the bounds; nonsense keeps the defaults."""
    monkeypatch.setenv(ENV_MAX_MB, "0.5")
    monkeypatch.setenv(ENV_DEADLINE, "2")
    assert DownloadLimits.from_env() == DownloadLimits(512 * 1024, 2.0)
    monkeypatch.setenv(ENV_MAX_MB, "nan")
    monkeypatch.setenv(ENV_DEADLINE, "-1")
    assert DownloadLimits.from_env() == DownloadLimits()

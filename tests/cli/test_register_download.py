"""`import-clients` fetches the Business Register file itself: fresh home, stale copy, offline."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.sandbox_home import Invoke, sandbox_config, store_sandbox_secrets
from tests.seed_counts import ImportCounts, import_counts
from trigon_sync.business_register.file_format import default_register_file
from trigon_sync.business_register.source import ENV_URL, choose_register
from trigon_sync.sandbox import Running, generate_seed
from trigon_sync.sandbox.register_file import write_register_zip
from trigon_sync.settings.config import RegisterSettings
from trigon_sync.store.secrets import open_store

DAY = 86_400.0


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    """30 firms with one of each import anomaly (3 valid codes missing from the register)."""
    return generate_seed(30, seed=7)


@pytest.fixture(scope="module")
def expected(seed: dict[str, Any]) -> ImportCounts:
    return import_counts(seed)


@pytest.fixture
def connected(sandbox: Running, write_config: Callable[[str], Path]) -> Running:
    write_config(sandbox_config(sandbox))
    store_sandbox_secrets(sandbox, open_store("keyring"))
    return sandbox


@pytest.fixture
def served(connected: Running, monkeypatch: pytest.MonkeyPatch) -> Running:
    """The tool pointed at the register file the sandbox builds from its seed."""
    monkeypatch.setenv(ENV_URL, connected.register_url)
    return connected


def flagged(cli: Invoke, *args: str) -> tuple[Any, list[dict[str, Any]]]:
    result = cli("import-clients", "--json", *args)
    assert result.exit_code == 0, result.output
    return result, json.loads(result.stdout)


def old_copy(seed: dict[str, Any], days: float) -> Path:
    """A downloaded register file as it would be after ``days`` days."""
    path = default_register_file()
    write_register_zip(seed["register"], path)
    stamp = time.time() - days * DAY
    os.utime(path, (stamp, stamp))
    return path


def test_fresh_home_downloads_the_register_and_flags_the_missing_firms(
    cli: Invoke, served: Running, expected: ImportCounts, seed: dict[str, Any]
) -> None:
    """No file yet: a plain import-clients fetches the served register and marks the red X."""
    assert not default_register_file().exists()
    result, rows = flagged(cli)
    missing = {r["trigon_id"] for r in rows if "not_in_register" in r["flags"]}
    anomalies = seed["anomalies"]
    assert missing == {*anomalies["missing_from_register"], *anomalies["bad_check_digit"]}
    assert len(missing) == expected.not_in_register
    assert default_register_file().is_file()
    assert "warning" not in result.stderr
    assert "not checked" not in result.stderr


def test_offline_without_a_file_checks_digits_only_with_one_warning(
    cli: Invoke, connected: Running, expected: ImportCounts
) -> None:
    """The download fails and nothing is there: exit 0, one warning saying what was not checked."""
    result = cli("import-clients")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    text = " ".join(result.stderr.split())
    assert "downloading the Business Register file" in text
    assert "check digit only, not against the Business Register" in text
    said = " ".join(result.stdout.split())  # however wide the console wrapped it
    assert "Business Register not checked" in said
    assert f"{expected.bad_check_digit} bad check digit" in said
    assert "not in the register" not in result.stdout


def test_offline_with_an_old_file_uses_it_and_says_how_old(
    cli: Invoke, connected: Running, seed: dict[str, Any]
) -> None:
    """A 10-day-old copy and no network: the copy is used, the warning gives its age."""
    old_copy(seed, 10)
    result, rows = flagged(cli)
    text = " ".join(result.stderr.split())
    assert "using the older file from" in text and "(10 days old)" in text
    missing = {r["trigon_id"] for r in rows if "not_in_register" in r["flags"]}
    assert set(seed["anomalies"]["missing_from_register"]) <= missing


def test_a_recent_file_is_not_downloaded_again(
    cli: Invoke, connected: Running, seed: dict[str, Any]
) -> None:
    """A 2-day-old copy is fresh enough: no download attempt (the offline URL stays untried)."""
    old_copy(seed, 2)
    result, _rows = flagged(cli)
    assert result.stderr.strip() == ""


@pytest.mark.parametrize("how", ["option", "config"])
def test_the_download_can_be_turned_off(
    cli: Invoke, served: Running, write_config: Callable[[str], Path], how: str
) -> None:
    """--no-register-download or [register] download = false: no file is fetched."""
    args: tuple[str, ...] = ("--no-register-download",)
    if how == "config":
        write_config(sandbox_config(served) + "\n[register]\ndownload = false\n")
        args = ()
    result = cli("import-clients", *args)
    assert result.exit_code == 0, result.output
    assert not default_register_file().exists()
    assert "warning" not in result.stderr
    assert "Business Register not checked" in " ".join(result.stdout.split())


def test_max_age_zero_refreshes_every_time(
    cli: Invoke, served: Running, write_config: Callable[[str], Path], seed: dict[str, Any]
) -> None:
    """[register] max_age_days = 0: even an hour-old copy is replaced by a fresh download."""
    write_config(sandbox_config(served) + "\n[register]\nmax_age_days = 0\n")
    path = old_copy(seed, 1 / 24)
    before = path.stat().st_mtime
    flagged(cli)
    assert path.stat().st_mtime > before


@pytest.mark.parametrize(
    ("age", "settings", "download", "plan"),
    [
        (None, RegisterSettings(), True, (False, True)),
        (3.0, RegisterSettings(), True, (True, False)),
        (8.0, RegisterSettings(), True, (True, True)),
        (8.0, RegisterSettings(max_age_days=10), True, (True, False)),
        (8.0, RegisterSettings(), False, (True, False)),
        (8.0, RegisterSettings(download=False), True, (True, False)),
        (None, RegisterSettings(download=False), True, (False, False)),
    ],
)
def test_choose_register_downloads_only_when_missing_or_stale(
    age: float | None,
    settings: RegisterSettings,
    download: bool,
    plan: tuple[bool, bool],
) -> None:
    """(file used?, download?) for each age and setting; the default max age is 7 days."""
    now = 1_800_000_000.0
    if age is not None:
        path = default_register_file()
        path.parent.mkdir(parents=True)
        path.write_bytes(b"zip")
        os.utime(path, (now - age * DAY, now - age * DAY))
    chosen = choose_register(None, settings, download=download, now=now)
    assert (chosen.path is not None, chosen.download) == plan


def test_a_given_or_configured_file_is_never_replaced(tmp_path: Path) -> None:
    """--register and [register] file are the admin's own copies: used as they are."""
    mine = tmp_path / "mine.zip"
    assert choose_register(mine, RegisterSettings(), download=True, now=0.0).download is False
    configured = RegisterSettings(file=mine, max_age_days=0)
    chosen = choose_register(None, configured, download=True, now=1e12)
    assert (chosen.path, chosen.download) == (mine, False)

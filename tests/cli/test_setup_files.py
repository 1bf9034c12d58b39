"""The set-up that ships with the package: the examples as package data, `config init`,
and `schedule --cron` / `--systemd` for this home, user and installation."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.cli.sandbox_home import Invoke
from trigon_sync.cli import setup_files
from trigon_sync.errors import ExitCode
from trigon_sync.store import paths

ROOT = Path(__file__).parents[2]
SHIPPED = ("config.example.toml", "crontab.example", "trigon-sync.service", "trigon-sync.timer")


def test_the_repository_examples_are_the_shipped_ones() -> None:
    """One home: the files at the top of the repository are the package's own."""
    package = ROOT / "trigon_sync" / "examples"
    for name in ("config.example.toml", "crontab.example"):
        assert (ROOT / name).resolve() == (package / name).resolve()
    for name in SHIPPED:
        assert setup_files.example(name) == (package / name).read_text(encoding="utf-8")


def test_config_init_writes_a_commented_config_that_checks_ok(cli: Invoke) -> None:
    result = cli("config", "init")
    assert result.exit_code == 0, result.output
    path = paths.config_file()
    text = path.read_text(encoding="utf-8")
    assert path.stat().st_mode & 0o777 == 0o600
    assert "# email = " in text and "# schedule = " in text and "[monitoring]" in text
    parsed = tomllib.loads(text)
    assert all(table == {} for table in parsed.values()), parsed  # every key commented out
    checked = cli("config", "check")
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith("ok\n")


def test_config_init_never_writes_over_a_config(cli: Invoke) -> None:
    paths.ensure_home()
    paths.config_file().write_text('[uku]\ncompany = "mine"\n', encoding="utf-8")
    result = cli("config", "init")
    assert result.exit_code == ExitCode.USAGE
    assert "already exists" in result.stderr
    assert paths.config_file().read_text(encoding="utf-8") == '[uku]\ncompany = "mine"\n'


def test_schedule_cron_is_one_line_for_this_home_and_installation(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "a home with 100% spaces"
    monkeypatch.setenv(paths.ENV_HOME, str(home))
    result = cli("schedule", "--cron")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "CRON_TZ=Europe/Tallinn" in lines
    job = lines[-1]
    assert job.startswith("30 0 * * * ")
    assert setup_files.install_command()[0] in job
    assert "'" + str(home).replace("%", "\\%") + "'" in job  # quoted; % escaped for cron
    assert job.endswith("run-monthly --quiet")


def test_schedule_systemd_writes_units_that_systemd_accepts(cli: Invoke, tmp_path: Path) -> None:
    units = tmp_path / "units"
    result = cli("schedule", "--systemd", "--output-dir", str(units))
    assert result.exit_code == 0, result.output
    service = (units / "trigon-sync.service").read_text(encoding="utf-8")
    assert f'Environment="TRIGON_SYNC_HOME={paths.home_dir()}"' in service
    assert f"User={setup_files.current_user()}" in service
    assert f"ExecStart={setup_files.install_command()[0]} " in service
    assert "OnCalendar=*-*-* 00:30:00 Europe/Tallinn" in (units / "trigon-sync.timer").read_text(
        encoding="utf-8"
    )
    again = cli("schedule", "--systemd", "--output-dir", str(units))
    assert again.exit_code == ExitCode.USAGE and "already exist" in again.stderr
    printed = cli("schedule", "--systemd")
    assert printed.exit_code == 0 and service in printed.stdout
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    done = subprocess.run(
        [analyze, "verify", str(units / "trigon-sync.service"), str(units / "trigon-sync.timer")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_schedule_wants_one_job_kind(cli: Invoke) -> None:
    assert cli("schedule", "--cron", "--systemd").exit_code == ExitCode.USAGE
    assert cli("schedule", "--cron", "--output-dir", "x").exit_code == ExitCode.USAGE

"""doctor's monitoring checks and the ping client, against a receiver on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from tests.ping_receiver import PING_PATH, ping_receiver
from trigon_sync import redact
from trigon_sync.clock import TALLINN
from trigon_sync.errors import ConfigError, ExitCode
from trigon_sync.health.checks import Outcome
from trigon_sync.health.monitoring_checks import metrics_check, ping_check, recent_check
from trigon_sync.monitoring import last_ping
from trigon_sync.monitoring import ping as pings
from trigon_sync.settings.config import Config
from trigon_sync.store import paths
from trigon_sync.store.config_file import load_config

NOW = dt.datetime(2024, 11, 20, 9, 0, tzinfo=TALLINN)


@pytest.fixture(autouse=True)
def short_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pings.ENV_PING_TIMEOUT, "0.5")


def config(section: str) -> Config:
    paths.ensure_home()
    paths.config_file().write_text(f"[monitoring]\n{section}", encoding="utf-8")
    return load_config()


def test_signal_urls_follow_healthchecks() -> None:
    url = "https://hc-ping.com/abc-def?create=1"
    assert pings.signal_url(url, pings.START) == "https://hc-ping.com/abc-def/start?create=1"
    assert pings.signal_url(url, pings.exit_signal(0)) == url
    assert pings.signal_url("https://hc-ping.com/abc-def/", pings.exit_signal(7)) == (
        "https://hc-ping.com/abc-def/7"
    )
    assert pings.shown(url) == "the monitor at hc-ping.com"


def test_a_wrong_url_is_not_retried_and_a_5xx_is() -> None:
    calls: list[str] = []

    def answer(status: int) -> pings.Send:
        def send(url: str, body: bytes, timeout: float) -> int:
            calls.append(url)
            return status

        return send

    assert not pings.ping("https://x.test/p", "", send=answer(404), sleep=lambda s: None).ok
    assert len(calls) == 1
    calls.clear()
    assert not pings.ping("https://x.test/p", "", send=answer(503), sleep=lambda s: None).ok
    assert len(calls) == pings.ATTEMPTS


def test_doctor_pings_log_which_leaves_the_check_state_alone() -> None:
    with ping_receiver() as receiver:
        check = ping_check(config(f'ping_url = "{receiver.url}"\n'))
    assert check.outcome is Outcome.OK, check
    assert receiver.signals() == ["log"]
    assert receiver.url not in check.detail and PING_PATH not in check.detail


def test_a_monitor_that_hangs_is_a_warning_within_the_timeout() -> None:
    with ping_receiver("hang") as receiver:
        check = ping_check(config(f'ping_url = "{receiver.url}"\n'))
    assert check.outcome is Outcome.WARN
    # Either the wait ran out first, or (on a loaded machine) the last try's own timeout
    # ended a moment before it: both say the monitor did not answer in time.
    assert "no answer within 0.5 s" in check.detail or "Timeout" in check.detail, check
    assert PING_PATH not in (check.detail + (check.fix or ""))


def test_nothing_configured_passes_every_monitoring_check() -> None:
    plain = Config(path=paths.config_file())
    assert ping_check(plain).outcome is Outcome.OK
    assert metrics_check(plain).outcome is Outcome.OK
    assert recent_check(plain, NOW).outcome is Outcome.OK


def test_metrics_directory_must_exist_and_be_writable(tmp_path: Path) -> None:
    missing = metrics_check(config(f'metrics_file = "{tmp_path}/none/m.prom"\n'))
    assert missing.outcome is Outcome.FAIL and missing.code is ExitCode.CONFIG
    assert metrics_check(config(f'metrics_file = "{tmp_path}/m.prom"\n')).ok
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert not metrics_check(config(f'metrics_file = "{locked}/m.prom"\n')).ok


def test_a_ping_or_metrics_older_than_a_night_fails(tmp_path: Path) -> None:
    metrics = tmp_path / "m.prom"
    settings = config(
        f'ping_url = "https://hc-ping.com/abcdefgh-1234"\nmetrics_file = "{metrics}"\n'
    )
    never = recent_check(settings, NOW)
    assert never.outcome is Outcome.WARN and "no ping sent yet" in never.detail
    fresh = NOW - dt.timedelta(hours=8, minutes=30)
    last_ping.save(pings.PingResult("", True, "answered 200", 0.1), fresh)
    metrics.write_text("", encoding="utf-8")
    os.utime(metrics, (fresh.timestamp(), fresh.timestamp()))
    assert recent_check(settings, NOW).outcome is Outcome.OK
    stale = NOW - dt.timedelta(days=3)
    last_ping.save(pings.PingResult("", True, "answered 200", 0.1), stale)
    late = recent_check(settings, NOW)
    assert late.outcome is Outcome.FAIL and late.code is ExitCode.CONFIG
    assert "ping older than 26 h" in late.detail
    assert "hc-ping.com/abcdefgh" not in late.detail


def test_the_ping_url_is_never_quoted_by_config_errors() -> None:
    secret = "ftp://hc-ping.com/0f0f0f0f-secret-path"
    with pytest.raises(ConfigError) as bad:
        config(f'ping_url = "{secret}"\n')
    assert "0f0f0f0f-secret-path" not in str(bad.value)
    assert "0f0f0f0f-secret-path" not in " ".join(str(p) for p in bad.value.problems)
    with pytest.raises(ConfigError) as broken:  # a syntax error on its line: not quoted
        config('ping_url = "https://hc-ping.com/0f0f0f0f-secret-path\n')
    assert "0f0f0f0f-secret-path" not in " ".join(str(p) for p in broken.value.problems)


def test_loading_the_config_registers_the_url_as_a_secret() -> None:
    config('ping_url = "https://hc-ping.com/0f0f0f0f-secret-path"\n')
    assert redact.scrub("GET https://hc-ping.com/0f0f0f0f-secret-path/start") == (
        f"GET {redact.MASK}/start"
    )
    assert "0f0f0f0f-secret-path" not in redact.scrub("path 0f0f0f0f-secret-path")


@pytest.mark.parametrize(
    "url",
    ["https://hc-ping.com/abc def", "https://hc-ping.com/abc\\u0000", "https://hc-ping.com/a\\tb"],
)
def test_a_ping_url_with_a_space_or_a_control_character_is_refused_by_config_check(
    url: str,
) -> None:
    """config check says so, instead of leaving it to the first ping to fail."""
    with pytest.raises(ConfigError) as bad:
        config(f'ping_url = "{url}"\n')
    problems = " ".join(str(p) for p in bad.value.problems)
    assert "monitoring.ping_url" in problems and "control character" in problems
    assert "hc-ping.com" not in problems

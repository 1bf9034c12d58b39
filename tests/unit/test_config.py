"""Loading, validating and editing config.toml."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest

from trigon_sync.errors import ConfigError
from trigon_sync.schedule.rules import ScheduleRule
from trigon_sync.settings.config import TRIGON_DEFAULT_URL, missing_for_monthly, require_schedule
from trigon_sync.store import paths
from trigon_sync.store.config_file import edit_config, load_config

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"

GOOD = """
[trigon]
email = "admin@firm.ee"
[uku]
company = "c-1"
[summary]
task_title = "Monthly summary {period}"
topic = "Bookkeeping"
first_import_date = 2024-10-01
schedule = "day_of_next_month"
day = 5
[fields]
sales_invoices_created = "Sales invoices"
payments_created = 17
"""


def write(text: str) -> Path:
    path = paths.config_file()
    paths.ensure_home()
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(text: str) -> list[tuple[str, str]]:
    path = write(text)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert all(p.file == str(path) for p in caught.value.problems)
    return [(p.key, p.message) for p in caught.value.problems]


def test_missing_file_is_an_empty_config() -> None:
    """Before `connect` there is no file; that is an empty config with defaults, not an error."""
    config = load_config()
    assert not config.exists
    assert config.trigon.base_url == TRIGON_DEFAULT_URL
    assert config.summary.schedule is None
    assert missing_for_monthly(config) == [
        "summary.task_title",
        "summary.topic",
        "summary.schedule",
        "summary.first_import_date",
        "fields",
    ]


def test_good_config_is_typed() -> None:
    """A complete file loads into typed settings; ints in [fields] are Uku field ids."""
    write(GOOD)
    config = load_config()
    assert config.summary.schedule == ScheduleRule("day_of_next_month", 5)
    assert config.summary.first_import_date == dt.date(2024, 10, 1)
    assert config.summary.title_for("2024-10") == "Monthly summary 2024-10"
    assert config.fields == {"sales_invoices_created": "Sales invoices", "payments_created": 17}
    assert config.uku.company == "c-1"
    assert missing_for_monthly(config) == []


def test_a_utf8_bom_is_accepted() -> None:
    """Windows editors save UTF-8 with a BOM; the file reads the same as without one."""
    paths.ensure_home()
    paths.config_file().write_bytes(b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    config = load_config()
    assert config.summary.schedule == ScheduleRule("day_of_next_month", 5)
    assert config.uku.company == "c-1"


def test_example_config_is_valid() -> None:
    """config.example.toml, copied as is, passes validation."""
    write(EXAMPLE.read_text(encoding="utf-8"))
    assert missing_for_monthly(load_config()) == []


def test_anomaly_settings_default_and_read() -> None:
    """No [anomalies]: factor 10 over 6 periods, no hold; the section overrides each."""
    write("")
    default = load_config().anomalies
    assert (default.spike_factor, default.history_periods, default.hold) == (10.0, 6, False)
    write("[anomalies]\nspike_factor = 4.5\nhistory_periods = 12\nhold = true\n")
    read = load_config().anomalies
    assert (read.spike_factor, read.history_periods, read.hold) == (4.5, 12, True)


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ('[summary]\ntask_title = "x\n', "summary.task_title", "not valid TOML"),
        ('[summary]\nschedule = "weekly"\n', "summary.schedule", "unknown schedule 'weekly'"),
        ('[summary]\nschedule = "day_of_next_month"\nday = 0\n', "summary.day", "from 1 to 31"),
        ('[summary]\nschedule = "day_of_next_month"\nday = 40\n', "summary.day", "not 40"),
        ('[summary]\nfirst_import_date = "October"\n', "summary.first_import_date", "not a date"),
        (
            '[summary]\nfirst_import_date = "01.10.2024"\n',
            "summary.first_import_date",
            "first_import_date = 2024-10-01",
        ),
        (
            "[summary]\nfirst_import_date = 31.02.2024\n",
            "summary.first_import_date",
            "February 2024 has 29 days",
        ),
        (
            '[summary]\nfirst_import_date = "31.02.2024"\n',
            "summary.first_import_date",
            "February 2024 has 29 days",
        ),
        ("[summary]\nfirst_import_date = 1024-10-01\n", "summary.first_import_date", "before"),
        ('[summary]\nschedule = "day_of_next_month"\n', "summary.day", "required"),
        ('[summary]\nschedule = "last_work_day"\nday = 5\n', "summary.day", "only used"),
        ('[summary]\ntask_title = "Summary {month}"\n', "summary.task_title", "{month}"),
        ('[summary]\nauto_complete = "yes"\n', "summary.auto_complete", "true or false"),
        ('[trigon]\npassword = "hunter2"\n', "trigon.password", "secrets never"),
        ('[trigon]\nbase_url = "http://api.trigon.ee"\n', "trigon.base_url", "https"),
        ('[trigon]\nemail = "admin"\n', "trigon.email", "not an email"),
        ('[trigon]\ntoken_store = "vault"\n', "trigon.token_store", "keyring"),
        (
            '[fields]\nsales_invoice_created = "A"\n',
            "fields.sales_invoice_created",
            "did you mean 'sales_invoices_created'",
        ),
        ("[anomalies]\nspike_factor = 1\n", "anomalies.spike_factor", "above 1"),
        ('[anomalies]\nspike_factor = "10"\n', "anomalies.spike_factor", "above 1"),
        ("[anomalies]\nhistory_periods = 0\n", "anomalies.history_periods", "1–60"),
        ('[anomalies]\nhold = "yes"\n', "anomalies.hold", "true or false"),
        (
            "[anomalies]\nspike_facter = 3\n",
            "anomalies.spike_facter",
            "did you mean 'spike_factor'",
        ),
        ("[sumary]\n", "sumary", "did you mean 'summary'"),
        ("summary = 3\n", "summary", "section"),
    ],
)
def test_each_bad_setting_names_its_key(text: str, key: str, fragment: str) -> None:
    """Each mistake a new user makes is one problem naming the file, the key and the fix."""
    [(got_key, message)] = problems_of(text)
    assert got_key == key
    assert fragment in message


def test_every_problem_is_reported_at_once() -> None:
    """Several mistakes give several problems in one error, not one per attempt."""
    found = problems_of(
        '[summary]\nschedule = "monthly"\nauto_complete = 1\n'
        '[fields]\npayments_created = "X"\npayments_updated = "x"\nbogus = "Y"\n'
    )
    assert {key for key, _ in found} == {
        "summary.schedule",
        "summary.auto_complete",
        "fields.payments_updated",
        "fields.bogus",
    }


def test_require_schedule_names_missing_keys() -> None:
    """Commands that need the schedule say which keys to add."""
    write('[summary]\nschedule = "last_work_day"\n')
    with pytest.raises(ConfigError, match=r"summary\.first_import_date: not set"):
        require_schedule(load_config())


def test_edit_config_keeps_other_keys_and_writes_0600() -> None:
    """An edit changes one key, keeps the rest, and leaves the file private."""
    path = write(GOOD)
    with edit_config() as raw:
        raw["uku"]["company"] = "c-2"
        raw["summary"]["day"] = None  # removes the key ...
        raw["summary"]["schedule"] = "last_work_day"  # ... so this stays valid
    config = load_config()
    assert config.uku.company == "c-2"
    assert config.summary.schedule == ScheduleRule("last_work_day")
    assert config.fields["payments_created"] == 17
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_edit_config_creates_the_file() -> None:
    """Editing with no file yet (what `connect` does) creates a valid one."""
    with edit_config() as raw:
        raw.setdefault("trigon", {})["email"] = "admin@firm.ee"
    assert load_config().trigon.email == "admin@firm.ee"


def test_invalid_edit_is_not_written() -> None:
    """An edit that would break the config raises and leaves the file unchanged."""
    path = write(GOOD)
    with pytest.raises(ConfigError, match=r"summary\.schedule"), edit_config() as raw:
        raw["summary"]["schedule"] = "fortnightly"
    assert path.read_text(encoding="utf-8") == GOOD


def test_a_home_set_up_but_without_links_is_pointed_at_the_import(tmp_path: Path) -> None:
    """Only the links are missing: the hint names import-clients and confirm, not the
    settings (the review found `map-fields` offered for a missing link)."""
    from trigon_sync.errors import Problem
    from trigon_sync.settings.config import Config, not_ready

    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    links = Problem(str(tmp_path / "state.toml"), "links", "no Trigon firm is linked")
    assert "import-clients" in (not_ready(Config(path=path), [links]).hint or "")
    assert "map-fields" not in (not_ready(Config(path=path), [links]).hint or "")
    title = Problem(str(path), "summary.title", "not set")
    assert "map-fields" in (not_ready(Config(path=path), [links, title]).hint or "")

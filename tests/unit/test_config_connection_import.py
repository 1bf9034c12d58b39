"""config.toml keys for the Trigon connection mode, the register download and auto import."""

from __future__ import annotations

from pathlib import Path

import pytest

from trigon_sync.errors import ConfigError
from trigon_sync.settings.config import TRIGON_ENVIRONMENT_URLS
from trigon_sync.store import paths
from trigon_sync.store.config_file import load_config


def write(text: str) -> Path:
    paths.ensure_home()
    path = paths.config_file()
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_password_production_download_weekly_and_warn() -> None:
    """Nothing set: the behaviour of earlier versions, plus the weekly register download."""
    write("[trigon]\n")
    config = load_config()
    assert (config.trigon.auth, config.trigon.environment) == ("password", "production")
    assert config.trigon.base_url == TRIGON_ENVIRONMENT_URLS["production"]
    assert (config.register.download, config.register.max_age_days) == (True, 7)
    assert config.imports.auto_import == "warn"


def test_the_settings_are_read() -> None:
    """Each new key is typed as written."""
    write(
        '[trigon]\nauth = "api-key"\nenvironment = "test"\n'
        '[register]\ndownload = false\nmax_age_days = 1\nurl = "https://example.test/r.zip"\n'
        '[import]\nauto_import = "create"\n'
    )
    config = load_config()
    assert config.trigon.auth == "api-key"
    assert config.trigon.base_url == TRIGON_ENVIRONMENT_URLS["test"]
    assert config.register.download is False
    assert config.register.max_age_days == 1
    assert config.register.url == "https://example.test/r.zip"
    assert config.imports.auto_import == "create"


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ('[trigon]\nauth = "token"\n', "trigon.auth", '"password" or "api-key"'),
        ('[trigon]\nenvironment = "producton"\n', "trigon.environment", "did you mean"),
        ("[register]\ndownload = 1\n", "register.download", "true or false"),
        ("[register]\nmax_age_days = -1\n", "register.max_age_days", "0 or more"),
        ('[register]\nurl = "ftp://x"\n', "register.url", "not a web address"),
        ('[import]\nauto_import = "yes"\n', "import.auto_import", '"warn" or "create"'),
        ('[import]\napi_key = "x"\n', "import.api_key", "secrets never belong"),
    ],
)
def test_each_bad_value_names_its_key(text: str, key: str, fragment: str) -> None:
    """A wrong value is a config problem naming the key and what to write."""
    write(text)
    with pytest.raises(ConfigError) as caught:
        load_config()
    [problem] = caught.value.problems
    assert problem.key == key
    assert fragment in problem.message

"""Writing into a shared home: no symlinks below the home, only its owner writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trigon_sync.errors import ExitCode, StateError
from trigon_sync.store import atomic, home_safety, paths


def test_a_symlinked_directory_between_the_home_and_the_file_is_refused(tmp_path: Path) -> None:
    """logs/ pointing elsewhere: the log file inside it is refused, naming logs/."""
    paths.ensure_home()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    paths.logs_dir().symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(StateError) as refused:
        home_safety.guard_write(paths.logs_dir() / "trigon-sync.log")
    assert str(paths.logs_dir()) in str(refused.value)
    assert refused.value.exit_code is ExitCode.STATE
    assert list(elsewhere.iterdir()) == []


def test_an_atomic_write_over_a_symlink_leaves_its_target_alone(tmp_path: Path) -> None:
    """state.toml -> /somewhere: refused, the target keeps its bytes, no temp file left."""
    paths.ensure_home()
    target = tmp_path / "victim"
    target.write_text("keep me")
    paths.state_file().symlink_to(target)
    with pytest.raises(StateError, match="symbolic link"):
        atomic.write_private(paths.state_file(), "schema_version = 1\n")
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in paths.home_dir().iterdir()) == ["state.toml"]


def test_the_owner_rule_uses_the_injected_uid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same uid passes; another uid is refused; no uid (Windows) means no rule."""
    home = paths.ensure_home()
    home_safety.check_owner(home)
    monkeypatch.setattr(home_safety, "current_uid", lambda: os.getuid() + 1)
    with pytest.raises(StateError, match="belongs to user id"):
        home_safety.check_owner(home)
    monkeypatch.setattr(home_safety, "current_uid", lambda: None)
    home_safety.check_owner(home)


def test_group_or_world_writable(tmp_path: Path) -> None:
    """0770 and 0703 are writable by others; 0700 and 0755 are not."""
    for mode, expected in ((0o770, True), (0o703, True), (0o700, False), (0o755, False)):
        tmp_path.chmod(mode)
        assert home_safety.group_or_world_writable(tmp_path) is expected
    tmp_path.chmod(0o700)

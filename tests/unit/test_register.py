"""Registration codes, the Business Register index and its cache, and `register update`."""

from __future__ import annotations

import csv
import io
import json
import os
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.json_schemas import check_output
from trigon_sync.business_register.file_format import (
    REGISTER_COLUMNS,
    REGISTER_CSV_NAME,
    REGISTER_ZIP_NAME,
    RegisterFileError,
    default_register_file,
    resolve_register_file,
)
from trigon_sync.business_register.index import RegisterEntry, RegisterIndex, cache_file_for
from trigon_sync.business_register.source import download_register
from trigon_sync.cli import register_cmd
from trigon_sync.cli.app import app
from trigon_sync.errors import ApiError, ExitCode, ServiceUnavailable, UsageError
from trigon_sync.registration_codes import has_valid_check_digit, normalise_code
from trigon_sync.sandbox.register_file import write_register_zip
from trigon_sync.store import paths

A_CODE = "10137319"
ROWS = [
    {"registration_code": "10137319", "name": "Alpha OÜ", "status": "R"},
    {"registration_code": "10000005", "name": '"Õunapuu" OÜ', "status": "L"},
    {"registration_code": "01234567", "name": "Nulliga Algav OÜ", "status": "N"},
]


@pytest.fixture
def register_zip(tmp_path: Path) -> Path:
    path = tmp_path / "data" / REGISTER_ZIP_NAME
    write_register_zip(ROWS, path)
    return path


def _zip_with(path: Path, member: str, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, payload)
    return path


# --------------------------------------------------------------------------- codes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10137319", "10137319"),
        (" 10137319\n", "10137319"),
        ("10 137 319", "10137319"),
        ("10\u00a0137\u00a0319", "10137319"),
        ("10.137.319", "10137319"),
        ("1013-7319", "10137319"),
        ("1013\u20137319", "10137319"),
        ("01234567", "01234567"),
        ("1013731", None),
        ("101373190", None),
        ("EE10137319", None),
        ("1013731x", None),
        ("١٠١٣٧٣١٩", None),  # Arabic-Indic digits are digits, but not a code
        ("", None),
        (None, None),
    ],
)
def test_normalise_code(text: str | None, expected: str | None) -> None:
    """Separators are dropped; anything but exactly 8 ASCII digits is not a code."""
    assert normalise_code(text) == expected


@given(
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.lists(st.sampled_from([" ", ".", "-", "\t", "\u00a0"]), min_size=9, max_size=9),
)
def test_normalise_code_ignores_any_separators(code: str, seps: list[str]) -> None:
    """Whatever separators surround or split the 8 digits, the code comes back intact."""
    spaced = "".join(sep + digit for sep, digit in zip(seps, code, strict=False)) + seps[-1]
    assert normalise_code(spaced) == code


@given(st.text(alphabet="0123456789 .-", max_size=20))
def test_normalise_code_needs_exactly_eight_digits(text: str) -> None:
    """A text is a code exactly when it holds eight digits, and then it is those digits."""
    digits = "".join(ch for ch in text if ch.isdigit())
    assert normalise_code(text) == (digits if len(digits) == 8 else None)


def test_check_digit_follows_stdnum() -> None:
    """python-stdnum decides: a wrong last digit or an unknown first digit is invalid."""
    assert has_valid_check_digit("10137319")
    assert not has_valid_check_digit("10137318")
    assert not has_valid_check_digit("32345674")
    assert not has_valid_check_digit("not a code")


# --------------------------------------------------------------------------- index


def test_index_looks_codes_up_from_the_zip(register_zip: Path) -> None:
    """Every row is found by its code in any spacing, with name and status; others are not."""
    index = RegisterIndex.build(register_zip)
    assert len(index) == 3
    assert index.lookup("10137319") == RegisterEntry("10137319", "Alpha OÜ", "R")
    assert index.lookup("10 000 005") == RegisterEntry("10000005", '"Õunapuu" OÜ', "L")
    assert index.lookup("01234567") == RegisterEntry("01234567", "Nulliga Algav OÜ", "N")
    assert index.lookup("01234567").status_text == "Pankrotis"  # type: ignore[union-attr]  # the code is in the index just built
    assert index.lookup("12345678") is None
    assert index.lookup("garbage") is None
    assert "10137319" in index
    assert "12345678" not in index


def test_from_entries_keeps_the_first_of_duplicate_codes() -> None:
    """A code listed twice keeps its first entry, and iteration is in code order."""
    index = RegisterIndex.from_entries(
        [
            RegisterEntry("10137319", "First OÜ", "R"),
            RegisterEntry("10000005", "Other OÜ", "R"),
            RegisterEntry("10137319", "Second OÜ", "L"),
        ]
    )
    assert [e.code for e in index] == ["10000005", "10137319"]
    assert index.lookup("10137319") == RegisterEntry("10137319", "First OÜ", "R")


def _csv_bytes(
    rows: list[list[str]],
    *,
    bom: bool = True,
    quoting: int = csv.QUOTE_MINIMAL,
    delimiter: str = ";",
    newline: str = "\r\n",
) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=newline).writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def test_reader_tolerates_quoting_order_folders_and_line_ends(tmp_path: Path) -> None:
    """Fully quoted fields, reordered/extra columns, no BOM, LF ends and a folder all read."""
    header = ["extra", "ettevotja_staatus", "ariregistri_kood", "nimi"]
    rows = [
        header,
        ["x", "R", "10137319", "Alpha; OÜ"],
        ["y", "L", "10 000 005", "Beta AS"],
        ["short"],
        [],
    ]
    payload = _csv_bytes(rows, bom=False, quoting=csv.QUOTE_ALL, newline="\n")
    path = _zip_with(tmp_path / "r.zip", f"2024/{REGISTER_CSV_NAME}", payload)
    index = RegisterIndex.build(path)
    assert index.lookup("10137319") == RegisterEntry("10137319", "Alpha; OÜ", "R")
    assert index.lookup("10000005") == RegisterEntry("10000005", "Beta AS", "L")
    assert len(index) == 2


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.write_text("<html>not found</html>"), p)[1], "not a zip file"),
        (lambda p: _zip_with(p, "readme.txt", b"hello"), "has no ettevotja_rekvisiidid"),
        (lambda p: _zip_with(p, REGISTER_CSV_NAME, b""), "is empty"),
        (
            lambda p: _zip_with(p, REGISTER_CSV_NAME, _csv_bytes([["nimi", "kood", "staatus"]])),
            "lacks the column(s) ariregistri_kood, ettevotja_staatus",
        ),
        (
            lambda p: _zip_with(
                p, REGISTER_CSV_NAME, _csv_bytes([list(REGISTER_COLUMNS)], delimiter=",")
            ),
            "expected ';'-separated columns",
        ),
        (
            lambda p: _zip_with(
                p,
                REGISTER_CSV_NAME,
                _csv_bytes([list(REGISTER_COLUMNS)]) + "Õun OÜ;10137319".encode("latin-1"),
            ),
            "is damaged",
        ),
    ],
    ids=["missing", "not-zip", "no-csv", "empty", "wrong-columns", "commas", "not-utf8"],
)
def test_bad_files_give_one_clear_usage_error(
    tmp_path: Path, make: Callable[[Path], Path], problem: str
) -> None:
    """Each kind of bad file names the file and the problem and exits as a usage error."""
    path = make(tmp_path / "register.zip")
    with pytest.raises(RegisterFileError) as caught:
        RegisterIndex.load(path)
    error = caught.value
    assert isinstance(error, UsageError)
    assert error.exit_code is ExitCode.USAGE
    assert str(path) in error.message
    assert problem in error.message
    assert "register update" in (error.hint or "")


def test_truncated_zip_is_reported_not_crashed(tmp_path: Path, register_zip: Path) -> None:
    """A download cut short is a clear error, not a traceback."""
    truncated = tmp_path / "cut.zip"
    truncated.write_bytes(register_zip.read_bytes()[:-40])
    with pytest.raises(RegisterFileError):
        RegisterIndex.load(truncated)


# --------------------------------------------------------------------------- cache


def test_second_load_comes_from_the_cache(register_zip: Path, isolated_home: Path) -> None:
    """The first load writes an index under the home's register dir; the next one reads it."""
    first = RegisterIndex.load(register_zip)
    cache = cache_file_for(register_zip)
    assert cache.parent == paths.register_dir()
    assert cache.is_file()
    second = RegisterIndex.load(register_zip)
    assert (first.from_cache, second.from_cache) == (False, True)
    assert list(second) == list(first)
    assert second.lookup("10000005") == RegisterEntry("10000005", '"Õunapuu" OÜ', "L")


def test_a_changed_file_invalidates_the_cache(register_zip: Path) -> None:
    """A new file with another size or mtime is parsed again, never answered from old data."""
    RegisterIndex.load(register_zip)
    write_register_zip(
        [*ROWS, {"registration_code": "80000001", "name": "Uus MTÜ", "status": "R"}], register_zip
    )
    stat = register_zip.stat()
    os.utime(register_zip, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    reloaded = RegisterIndex.load(register_zip)
    assert not reloaded.from_cache
    assert reloaded.lookup("80000001") is not None
    assert RegisterIndex.load(register_zip).from_cache


def test_same_size_new_mtime_is_rebuilt(register_zip: Path) -> None:
    """Only touching the file (same size) is enough to distrust the cache."""
    RegisterIndex.load(register_zip)
    stat = register_zip.stat()
    os.utime(register_zip, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5))
    assert not RegisterIndex.load(register_zip).from_cache


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]),
        lambda data: b"",
        lambda data: b"\x00" * len(data),
    ],
    ids=["truncated", "flipped-byte", "empty", "zeros"],
)
def test_corrupt_cache_is_rebuilt_not_fatal(
    register_zip: Path, damage: Callable[[bytes], bytes]
) -> None:
    """A damaged cache file is ignored and replaced by a good one."""
    RegisterIndex.load(register_zip)
    cache = cache_file_for(register_zip)
    cache.write_bytes(damage(cache.read_bytes()))
    rebuilt = RegisterIndex.load(register_zip)
    assert not rebuilt.from_cache
    assert rebuilt.lookup("10137319") == RegisterEntry("10137319", "Alpha OÜ", "R")
    assert RegisterIndex.load(register_zip).from_cache


def test_unwritable_cache_dir_still_answers(register_zip: Path, tmp_path: Path) -> None:
    """When the cache cannot be written the index still works; it is just built each time."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    index = RegisterIndex.load(register_zip, cache_dir=blocker / "sub")
    assert index.lookup("10137319") == RegisterEntry("10137319", "Alpha OÜ", "R")
    assert not index.from_cache
    assert not RegisterIndex.load(register_zip, cache_dir=blocker / "sub").from_cache


def test_resolve_register_file_precedence(tmp_path: Path) -> None:
    """--register beats config, config beats the downloaded file, and no file means None."""
    explicit, configured = tmp_path / "a.zip", tmp_path / "b.zip"
    assert resolve_register_file(None, None) is None
    write_register_zip(ROWS, default_register_file())
    assert resolve_register_file(None, None) == default_register_file()
    assert resolve_register_file(None, configured) == configured
    assert resolve_register_file(explicit, configured) == explicit


# --------------------------------------------------------------------------- download


class _Server:
    """A tiny HTTP server on 127.0.0.1 answering each path with a fixed status and body."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes]] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = routes.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server(register_zip: Path) -> Iterator[_Server]:
    srv = _Server()
    srv.routes["/avaandmed/" + REGISTER_ZIP_NAME] = (200, register_zip.read_bytes())
    srv.routes["/html"] = (200, b"<html>maintenance</html>")
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


def test_download_saves_the_zip_atomically_with_progress(server: _Server) -> None:
    """The file lands in the register dir under its real name; progress reaches the total."""
    seen: list[tuple[int, int | None]] = []
    with httpx.Client() as client:
        path = download_register(
            server.url("/avaandmed/" + REGISTER_ZIP_NAME),
            client=client,
            on_progress=lambda done, total: seen.append((done, total)),
        )
    assert path == default_register_file()
    assert RegisterIndex.load(path).lookup("10137319") is not None
    size = path.stat().st_size
    assert seen[-1] == (size, size)
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize(
    ("route", "error", "text"),
    [("/missing", ApiError, "HTTP 404"), ("/html", ApiError, "not the Business Register file")],
)
def test_failed_download_keeps_the_previous_file(
    server: _Server, route: str, error: type[Exception], text: str
) -> None:
    """An HTTP error or a non-register body fails clearly and leaves the old file in place."""
    write_register_zip(ROWS[:1], default_register_file())
    before = default_register_file().read_bytes()
    with httpx.Client() as client, pytest.raises(error, match=text):
        download_register(server.url(route), client=client)
    assert default_register_file().read_bytes() == before
    left = sorted(p.name for p in paths.register_dir().iterdir())
    assert left == ["download.lock", REGISTER_ZIP_NAME]  # no partial file


def test_unreachable_server_is_service_unavailable() -> None:
    """A refused connection becomes ServiceUnavailable (exit SERVICE), not a traceback."""
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    with httpx.Client() as client, pytest.raises(ServiceUnavailable):
        download_register(f"http://127.0.0.1:{port}/x.zip", client=client)


def test_register_update_command_downloads_and_indexes(server: _Server) -> None:
    """`register update --url` saves the file, builds the index and says how many companies."""
    result = CliRunner().invoke(
        register_cmd.app, ["update", "--url", server.url("/avaandmed/" + REGISTER_ZIP_NAME)]
    )
    assert result.exit_code == 0, result.output
    assert "3 companies" in result.output
    assert cache_file_for(default_register_file()).is_file()


def test_register_check_command_reports_register_and_check_digit(register_zip: Path) -> None:
    """`register check` shows the check digit verdict and the register's name and status."""
    runner = CliRunner()
    found = runner.invoke(
        register_cmd.app, ["check", "10 137 319", "--register", str(register_zip)]
    )
    assert found.exit_code == 0, found.output
    assert "Alpha OÜ" in found.output
    assert "Registrisse kantud" in found.output
    absent = runner.invoke(register_cmd.app, ["check", "12345678", "--register", str(register_zip)])
    assert "not in" in absent.output
    unchecked = runner.invoke(register_cmd.app, ["check", "12345678", "--json"])
    assert '"register_checked": false' in unchecked.output
    check_output(["register", "check", "12345678", "--json"], unchecked.stdout)
    known = runner.invoke(
        register_cmd.app, ["check", "10137319", "--register", str(register_zip), "--json"]
    )
    check_output(["register", "check", "--json"], known.stdout)
    assert json.loads(known.stdout)["in_register"] is True


def test_register_check_rejects_a_non_code() -> None:
    """A value that is not 8 digits is a usage error before any file is read."""
    result = CliRunner().invoke(register_cmd.app, ["check", "abc"])
    assert isinstance(result.exception, UsageError)


def test_bad_register_file_is_one_line_and_exit_usage(tmp_path: Path) -> None:
    """Through the real CLI a file that is not a zip is one stderr line and exit code 2."""
    bogus = tmp_path / "register.zip"
    bogus.write_text("not a zip")
    result = CliRunner().invoke(app, ["register", "check", A_CODE, "--register", str(bogus)])
    assert result.exit_code == ExitCode.USAGE
    assert f"{bogus}: not a zip file" in result.output
    assert "Traceback" not in result.output

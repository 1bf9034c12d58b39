"""The Business Register's open-data file: its columns, its CSV dialect and reading its rows.

The register publishes its basic data daily as one zipped CSV of ~373,000 rows
(``ettevotja_rekvisiidid__lihtandmed.csv.zip``). This module reads that zip (every
problem a :class:`RegisterFileError` naming the file) and picks which file to use;
``business_register/index.py`` indexes the rows, ``business_register/source.py`` downloads the file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from trigon_sync.errors import UsageError
from trigon_sync.store import paths

REGISTER_CSV_NAME = "ettevotja_rekvisiidid__lihtandmed.csv"
REGISTER_ZIP_NAME = f"{REGISTER_CSV_NAME}.zip"

#: The columns of the basic-data file, in the register's order.
REGISTER_COLUMNS: tuple[str, ...] = (
    "nimi",
    "ariregistri_kood",
    "ettevotja_oiguslik_vorm",
    "ettevotja_oigusliku_vormi_alaliik",
    "kmkr_nr",
    "ettevotja_staatus",
    "ettevotja_staatus_tekstina",
    "ettevotja_esmakande_kpv",
    "ettevotja_aadress",
    "asukoht_ettevotja_aadressis",
    "asukoha_ehak_kood",
    "asukoha_ehak_tekstina",
    "indeks_ettevotja_aadressis",
    "ads_adr_id",
    "ads_ads_oid",
    "ads_normaliseeritud_taisaadress",
    "teabesysteemi_link",
)
_NAME, _CODE, _STATUS = "nimi", "ariregistri_kood", "ettevotja_staatus"
REQUIRED_COLUMNS = (_NAME, _CODE, _STATUS)


class RegisterDialect(csv.Dialect):
    """The open-data file's CSV dialect: ';'-separated, '"'-quoted only when needed."""

    delimiter = ";"
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL
    strict = False


_HINT = (
    "download the current file with `trigon-sync register update`, or pass the "
    f"Business Register's {REGISTER_ZIP_NAME}"
)


class RegisterFileError(UsageError):
    """The register file given cannot be read; the message names the file and the problem."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"Business Register file {path}: {problem}", hint=_HINT)
        self.path = path
        self.problem = problem


def stat_register_file(path: Path) -> os.stat_result:
    """The file's size and mtime; a missing or unreadable file is a RegisterFileError."""
    try:
        return path.stat()
    except FileNotFoundError:
        raise RegisterFileError(path, "no such file") from None
    except OSError as exc:
        raise RegisterFileError(path, f"cannot read it ({exc.strerror})") from None


def _csv_member(archive: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    for info in archive.infolist():
        if info.filename.rsplit("/", 1)[-1] == REGISTER_CSV_NAME:
            return info
    found = ", ".join(archive.namelist()[:5]) or "nothing"
    raise RegisterFileError(path, f"the zip has no {REGISTER_CSV_NAME} (it holds {found})")


@contextlib.contextmanager
def _open_register_csv(path: Path) -> Iterator[tuple[Iterator[list[str]], dict[str, int]]]:
    """Yield a csv reader positioned after the header and the column positions we need."""
    stat_register_file(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise RegisterFileError(path, "not a zip file") from None
    except OSError as exc:
        raise RegisterFileError(path, f"cannot read it ({exc.strerror})") from None
    with archive:
        member = _csv_member(archive, path)
        try:
            with (
                archive.open(member) as raw,
                io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
            ):
                reader = csv.reader(text, dialect=RegisterDialect)
                header = next(reader, None)
                if header is None:
                    raise RegisterFileError(path, f"{REGISTER_CSV_NAME} is empty")
                yield reader, _column_positions(header, path)
        except _DAMAGE as exc:
            raise RegisterFileError(path, f"{REGISTER_CSV_NAME} is damaged ({exc})") from None


# What a truncated, corrupt or mis-encoded member raises while it is being read.
_DAMAGE = (
    UnicodeDecodeError,
    csv.Error,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
)


def _column_positions(header: list[str], path: Path) -> dict[str, int]:
    columns = [name.strip().lstrip("\ufeff").strip('"') for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        problem = f"{REGISTER_CSV_NAME} lacks the column(s) {', '.join(missing)}"
        if len(columns) == 1 and ";" not in header[0]:
            problem += " (expected ';'-separated columns"
            problem += f" starting {';'.join(REGISTER_COLUMNS[:3])})"
        raise RegisterFileError(path, problem)
    return {name: columns.index(name) for name in REQUIRED_COLUMNS}


def read_register_rows(path: Path) -> Iterator[tuple[str, str, str]]:
    """(code, name, status) for every data row; short or blank rows are skipped."""
    with _open_register_csv(path) as (reader, pos):
        code_at, name_at, status_at = pos[_CODE], pos[_NAME], pos[_STATUS]
        needed = max(code_at, name_at, status_at) + 1
        for row in reader:
            if len(row) >= needed:
                yield row[code_at], row[name_at], row[status_at]


def check_register_file(path: Path) -> None:
    """Raise :class:`RegisterFileError` unless ``path`` is a zip holding a usable register CSV.

    Reads only the header, so a fresh download can be vetted before it replaces a good file.
    """
    with _open_register_csv(path):
        pass


def default_register_file() -> Path:
    """Where ``register update`` keeps the downloaded file."""
    return paths.register_dir() / REGISTER_ZIP_NAME


def resolve_register_file(explicit: Path | None, configured: Path | None) -> Path | None:
    """The register file to use: ``--register``, else config, else a downloaded one, else None.

    None means "register not checked"; an explicit or configured path is returned even
    when missing so that loading it fails loudly instead of silently skipping the check.
    """
    if explicit is not None:
        return explicit
    if configured is not None:
        return configured
    downloaded = default_register_file()
    return downloaded if downloaded.is_file() else None

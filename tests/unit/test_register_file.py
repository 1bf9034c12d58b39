"""The sandbox's Business Register file is byte-for-byte the register's open-data format."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest

from trigon_sync.business_register.file_format import REGISTER_COLUMNS, REGISTER_CSV_NAME
from trigon_sync.business_register.index import RegisterIndex
from trigon_sync.registration_codes import has_valid_check_digit
from trigon_sync.sandbox.register_file import write_full_size_register, write_register_zip

ROWS = [
    {"registration_code": "10137319", "name": "Alpha OÜ", "status": "R"},
    {
        "registration_code": "10000005",
        "name": 'Osaühing "Õunapuu"; Jüri',
        "status": "L",
        "kmkr_nr": "EE100000001",
        "first_entry_date": "2015-02-01",
        "address": "Ülikooli tn 18",
    },
    {
        "registration_code": "80000001",
        "name": "Näidis Selts MTÜ",
        "status": "N",
        "first_entry_date": "24.12.1999",
    },
]


def _read_member(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [REGISTER_CSV_NAME]
        return archive.read(REGISTER_CSV_NAME)


def _rows(path: Path) -> list[list[str]]:
    """The file as the real one is read: zipfile + csv, ';', UTF-8 with BOM."""
    with zipfile.ZipFile(path) as archive, archive.open(REGISTER_CSV_NAME) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        return list(csv.reader(text, delimiter=";"))


def test_zip_holds_the_register_csv_with_bom_and_17_columns(tmp_path: Path) -> None:
    """The zip holds one UTF-8-with-BOM CSV whose header is the register's 17 columns."""
    path = tmp_path / "register.zip"
    write_register_zip(ROWS, path)
    assert _read_member(path).startswith(b"\xef\xbb\xbfnimi;ariregistri_kood;")
    rows = _rows(path)
    assert rows[0] == list(REGISTER_COLUMNS)
    assert len(REGISTER_COLUMNS) == 17
    assert all(len(row) == 17 for row in rows)
    assert len(rows) == 1 + len(ROWS)


def test_values_land_in_their_columns_with_register_formats(tmp_path: Path) -> None:
    """Status text, dd.mm.yyyy dates, VAT number and address go where the register has them."""
    path = tmp_path / "register.zip"
    write_register_zip(ROWS, path)
    records = [dict(zip(REGISTER_COLUMNS, row, strict=True)) for row in _rows(path)[1:]]
    alpha, quoted, selts = records
    assert alpha["ettevotja_staatus_tekstina"] == "Registrisse kantud"
    assert quoted["ettevotja_staatus_tekstina"] == "Likvideerimisel"
    assert selts["ettevotja_staatus_tekstina"] == "Pankrotis"
    assert quoted["ettevotja_esmakande_kpv"] == "01.02.2015"
    assert selts["ettevotja_esmakande_kpv"] == "24.12.1999"
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", alpha["ettevotja_esmakande_kpv"])
    assert quoted["kmkr_nr"] == "EE100000001"
    assert alpha["kmkr_nr"] == ""
    assert quoted["asukoht_ettevotja_aadressis"] == "Ülikooli tn 18"
    assert selts["ettevotja_oiguslik_vorm"] == "Mittetulundusühing"
    assert alpha["ettevotja_oiguslik_vorm"] == "Osaühing"
    assert alpha["teabesysteemi_link"].endswith("/10137319")


def test_quotes_and_semicolons_in_names_survive_minimal_quoting(tmp_path: Path) -> None:
    """A name with quotes and a semicolon is quoted, doubled, and reads back unchanged."""
    path = tmp_path / "register.zip"
    write_register_zip(ROWS, path)
    text = _read_member(path).decode("utf-8-sig")
    assert '"Osaühing ""Õunapuu""; Jüri";10000005;' in text
    assert "\nAlpha OÜ;10137319;" in text  # unquoted when nothing needs quoting
    assert _rows(path)[2][0] == 'Osaühing "Õunapuu"; Jüri'


def test_unknown_status_is_refused(tmp_path: Path) -> None:
    """Only R, L and N exist in the file; anything else is a bug in the caller."""
    with pytest.raises(ValueError, match="status"):
        write_register_zip(
            [{"registration_code": "10137319", "name": "X", "status": "K"}], tmp_path / "r.zip"
        )
    assert not (tmp_path / "r.zip").exists()


def test_register_column_keys_override_the_filled_values(tmp_path: Path) -> None:
    """A row may set any register column by its Estonian name."""
    path = tmp_path / "register.zip"
    write_register_zip([{**ROWS[0], "ettevotja_oiguslik_vorm": "Aktsiaselts"}], path)
    assert _rows(path)[1][2] == "Aktsiaselts"


def test_generated_register_includes_extras_with_unique_valid_codes(tmp_path: Path) -> None:
    """A generated file carries the extra rows, unique codes, and checksums stdnum accepts."""
    path = tmp_path / "full.zip"
    write_full_size_register(path, extra_rows=ROWS, n_rows=3000, seed=7)
    rows = _rows(path)[1:]
    codes = [row[1] for row in rows]
    assert len(codes) == len(set(codes))
    assert {"10137319", "10000005", "80000001"} <= set(codes)
    extras = {"10137319", "10000005", "80000001"}
    assert all(has_valid_check_digit(code) for code in codes if code not in extras)
    assert {row[5] for row in rows} <= {"R", "L", "N"}
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4}", row[7]) for row in rows)
    assert len(rows) == 3000 + len(ROWS)


def test_generation_is_reproducible_from_the_seed(tmp_path: Path) -> None:
    """The same seed writes the same rows; another seed writes different ones."""
    write_full_size_register(tmp_path / "a.zip", n_rows=500, seed=1)
    write_full_size_register(tmp_path / "b.zip", n_rows=500, seed=1)
    write_full_size_register(tmp_path / "c.zip", n_rows=500, seed=2)
    assert _read_member(tmp_path / "a.zip") == _read_member(tmp_path / "b.zip")
    assert _read_member(tmp_path / "a.zip") != _read_member(tmp_path / "c.zip")


def test_full_size_writer_streams_generated_rows_plus_the_extras(tmp_path: Path) -> None:
    """The full-size writer emits n generated rows and the given ones, all indexable.

    Its speed for the real ~373,000 rows is a figure printed by
    benchmarks/register_bench.py, not a timed test.
    """
    path = tmp_path / "full.zip"
    write_full_size_register(path, extra_rows=ROWS, n_rows=5_000)
    index = RegisterIndex.build(path)
    assert len(index) == 5_000 + len(ROWS)
    for row in ROWS:
        assert index.lookup(row["registration_code"]) is not None

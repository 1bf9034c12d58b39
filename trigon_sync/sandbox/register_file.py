"""Write the Business Register's open-data file, as the register itself publishes it.

Tests, the demo and the benchmark need register files without the internet, and
the reader must be proven against the real format rather than a convenient one:
``ettevotja_rekvisiidid__lihtandmed.csv`` inside a zip, UTF-8 with a BOM,
';'-separated with '"' quoting only where needed, the 17 columns in the
register's order, dates as dd.mm.yyyy and statuses R/L/N with their Estonian
text. Rows are streamed into the zip so a full-size file (~373,000 companies)
never sits in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from stdnum.ee import ik, kmkr

from trigon_sync.business_register.file_format import (
    REGISTER_COLUMNS,
    REGISTER_CSV_NAME,
    RegisterDialect,
)
from trigon_sync.business_register.index import STATUS_TEXT
from trigon_sync.store import atomic

# (EHAK code, place as the register spells it, a postal code there)
_PLACES: tuple[tuple[str, str, str], ...] = (
    ("0176", "Haabersti linnaosa, Tallinn, Harju maakond", "13513"),
    ("0298", "Kesklinna linnaosa, Tallinn, Harju maakond", "10111"),
    ("0339", "Kristiine linnaosa, Tallinn, Harju maakond", "10617"),
    ("0387", "Lasnamäe linnaosa, Tallinn, Harju maakond", "13611"),
    ("0482", "Mustamäe linnaosa, Tallinn, Harju maakond", "12915"),
    ("0524", "Nõmme linnaosa, Tallinn, Harju maakond", "11620"),
    ("0596", "Pirita linnaosa, Tallinn, Harju maakond", "12011"),
    ("0614", "Põhja-Tallinna linnaosa, Tallinn, Harju maakond", "10412"),
    ("8151", "Tartu linn, Tartu linn, Tartu maakond", "51004"),
    ("0624", "Pärnu linn, Pärnu linn, Pärnu maakond", "80010"),
    ("0511", "Narva linn, Ida-Viru maakond", "20308"),
    ("0919", "Viljandi linn, Viljandi vald, Viljandi maakond", "71020"),
    ("3446", "Kuressaare linn, Saaremaa vald, Saare maakond", "93819"),
    ("6561", "Rakvere linn, Rakvere vald, Lääne-Viru maakond", "44307"),
    ("4332", "Jüri alevik, Rae vald, Harju maakond", "75301"),
    ("3064", "Haapsalu linn, Haapsalu linn, Lääne maakond", "90502"),
)
_STREETS = (
    "Õismäe tee",
    "Pärnu mnt",
    "Narva mnt",
    "Tartu mnt",
    "Järvevana tee",
    "Sõpruse pst",
    "Mustamäe tee",
    "Rüütli tn",
    "Väike-Ameerika tn",
    "Kalda tee",
    "Männiku tee",
    "Küütri tn",
    "Riia tn",
    "Lõõtsa tn",
    "Ülikooli tn",
    "Põik tn",
    "Jõe tn",
    "Vabaduse pst",
)
_STEMS = (
    "Põhja",
    "Lõuna",
    "Ida",
    "Lääne",
    "Kesk",
    "Mere",
    "Metsa",
    "Järve",
    "Kivi",
    "Tamme",
    "Kase",
    "Männi",
    "Rebase",
    "Karu",
    "Hundi",
    "Päikese",
    "Tähe",
    "Õuna",
    "Mustika",
    "Jõe",
    "Silla",
    "Saare",
    "Ranna",
    "Härma",
    "Ülemiste",
    "Võru",
    "Nõmme",
    "Kääbu",
    "Öökulli",
    "Rukki",
)
_TRADES = (
    "Ehitus",
    "Kinnisvara",
    "Consulting",
    "Invest",
    "Grupp",
    "Tehnika",
    "Teenused",
    "Arendus",
    "Transport",
    "Logistika",
    "Puit",
    "Metall",
    "Disain",
    "Meedia",
    "Koolitus",
    "Auto",
    "Raamatupidamine",
    "Tarkvara",
    "Kaubandus",
    "Agro",
    "Energia",
    "Stuudio",
    "Holding",
    "Partners",
    "Solutions",
    "Trade",
    "Service",
    "Capital",
    "Hooldus",
    "Küte",
)
# (share, suffix in the name, legal form, first digit of its codes)
_FORMS: tuple[tuple[float, str, str, str], ...] = (
    (0.78, "OÜ", "Osaühing", "1"),
    (0.09, "MTÜ", "Mittetulundusühing", "8"),
    (0.05, "FIE", "Füüsilisest isikust ettevõtja", "1"),
    (0.02, "AS", "Aktsiaselts", "1"),
    (0.03, "KÜ", "Mittetulundusühing", "8"),
    (0.01, "SA", "Sihtasutus", "9"),
    (0.01, "TÜ", "Täisühing", "1"),
    (0.01, "UÜ", "Usaldusühing", "1"),
)
_SUFFIX_FORM = {suffix: form for _, suffix, form, _ in _FORMS}
_SUBTYPE = {"KÜ": "Korteriühistu"}


def _with_check_digit(body: str) -> str:
    """A 7-digit body plus the check digit python-stdnum expects."""
    return body + ik.calc_check_digit(body + "0")


def _vat_number(n: int) -> str:
    """A VAT number that python-stdnum accepts (the last weight is 1, so solve for it)."""
    body = f"10{n % 10**6:06d}"
    return f"EE{body}{-kmkr.checksum(body + '0') % 10}"


def _register_date(value: object) -> str:
    """dd.mm.yyyy from a date, an ISO date string, or a string already in that form."""
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    text = str(value).strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        return dt.date.fromisoformat(text).strftime("%d.%m.%Y")
    return text


def _legal_form(name: str) -> tuple[str, str]:
    last = name.rsplit(" ", 1)[-1].strip('"')
    return _SUFFIX_FORM.get(last, "Osaühing"), _SUBTYPE.get(last, "")


def register_row(row: Mapping[str, str]) -> list[str]:
    """The 17 register columns for one company described by ``row``.

    ``row`` needs registration_code, name and status (R, L or N); kmkr_nr,
    first_entry_date and address are optional, and anything missing is filled in
    plausibly and deterministically from the code. A key named like a register
    column (e.g. ``ettevotja_oiguslik_vorm``) overrides that column as written.
    """
    code = str(row["registration_code"])
    name = str(row["name"])
    status = str(row.get("status") or "R")
    if status not in STATUS_TEXT:
        raise ValueError(f"register status must be one of {sorted(STATUS_TEXT)}, not {status!r}")
    number = int("".join(ch for ch in code if ch.isdigit()) or "0")
    ehak, place, postal = _PLACES[number % len(_PLACES)]
    street = row.get("address") or f"{_STREETS[number % len(_STREETS)]} {number % 97 + 1}"
    first_entry = row.get("first_entry_date") or dt.date(1992, 1, 1) + dt.timedelta(
        days=number % 11_700
    )
    form, subtype = _legal_form(name)
    values = {
        "nimi": name,
        "ariregistri_kood": code,
        "ettevotja_oiguslik_vorm": form,
        "ettevotja_oigusliku_vormi_alaliik": subtype,
        "kmkr_nr": str(row.get("kmkr_nr") or ""),
        "ettevotja_staatus": status,
        "ettevotja_staatus_tekstina": STATUS_TEXT[status],
        "ettevotja_esmakande_kpv": _register_date(first_entry),
        "ettevotja_aadress": "",
        "asukoht_ettevotja_aadressis": str(street),
        "asukoha_ehak_kood": ehak,
        "asukoha_ehak_tekstina": place,
        "indeks_ettevotja_aadressis": postal,
        "ads_adr_id": str(2_000_000 + number % 1_500_000),
        "ads_ads_oid": "",
        "ads_normaliseeritud_taisaadress": f"{_reverse_place(place)}, {street}",
        "teabesysteemi_link": f"https://ariregister.rik.ee/est/company/{code}",
    }
    for column in REGISTER_COLUMNS:
        if column in row:
            values[column] = str(row[column])
    return [values[column] for column in REGISTER_COLUMNS]


def _reverse_place(place: str) -> str:
    """'Haabersti linnaosa, Tallinn, Harju maakond' -> 'Harju maakond, Tallinn, Haabersti ...'."""
    return ", ".join(reversed(place.split(", ")))


def write_register_zip(rows: Iterable[Mapping[str, str]], path: Path) -> None:
    """Write ``rows`` as the register's zipped basic-data CSV at ``path`` (atomically)."""
    _write_rows((register_row(row) for row in rows), path)


def register_zip_bytes(rows: Iterable[Mapping[str, str]]) -> bytes:
    """``rows`` as the register's zip, in memory (what `sandbox serve` hands out)."""
    buffer = io.BytesIO()
    _zip_rows((register_row(row) for row in rows), buffer)
    return buffer.getvalue()


def _zip_rows(rows: Iterable[list[str]], target: Path | IO[bytes]) -> None:
    with (
        zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf,
        zf.open(REGISTER_CSV_NAME, "w") as member,
        io.TextIOWrapper(member, encoding="utf-8-sig", newline="") as text,
    ):
        writer = csv.writer(text, dialect=RegisterDialect)
        writer.writerow(REGISTER_COLUMNS)
        writer.writerows(rows)


def _write_rows(rows: Iterable[list[str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path) as out:
        _zip_rows(rows, out)


def write_full_size_register(
    path: Path,
    extra_rows: Iterable[Mapping[str, str]] = (),
    n_rows: int = 373_000,
    seed: int = 0,
) -> None:
    """Write a register file as large as the real one: ``n_rows`` invented companies.

    ``extra_rows`` (e.g. a seed's own firms) are spread through the file and their
    codes are never reused by invented rows. The same ``seed`` gives the same file
    contents.
    """
    extras = [register_row(row) for row in extra_rows]
    taken = {row[1] for row in extras}
    _write_rows(_full_size_rows(random.Random(seed), n_rows, extras, taken), path)


def _full_size_rows(
    rng: random.Random, n_rows: int, extras: list[list[str]], taken: set[str]
) -> Iterator[list[str]]:
    every = max(1, n_rows // (len(extras) + 1)) if extras else 0
    pending = iter(extras)
    weights = [share for share, *_ in _FORMS]
    # One ascending counter per first digit keeps codes unique without a set of 373k.
    next_body = {"1": 1_000_000, "8": 8_000_000, "9": 9_000_000}
    places, streets = len(_PLACES), len(_STREETS)
    start = dt.date(1991, 9, 1).toordinal()
    span = dt.date(2024, 12, 31).toordinal() - start
    for i in range(n_rows):
        if every and i % every == every - 1:
            extra = next(pending, None)
            if extra is not None:
                yield extra
        _, suffix, form, digit = rng.choices(_FORMS, weights)[0]
        code = ""
        while not code or code in taken:
            next_body[digit] += rng.randint(1, 4)
            code = _with_check_digit(f"{next_body[digit]:07d}")
        stem, trade = rng.choice(_STEMS), rng.choice(_TRADES)
        base = f"{stem} {trade}" if rng.random() < 0.7 else f"{stem}{trade.lower()}"
        name = f"{base} {suffix}"
        if rng.random() < 0.004:
            name = f'"{base}" {suffix}'  # quoted names exist in the real file
        draw = rng.random()
        status = "R" if draw < 0.95 else ("L" if draw < 0.98 else "N")
        ehak, place, postal = _PLACES[rng.randrange(places)]
        street = f"{_STREETS[rng.randrange(streets)]} {rng.randint(1, 180)}"
        if rng.random() < 0.3:
            street += f"-{rng.randint(1, 90)}"
        yield [
            name,
            code,
            form,
            _SUBTYPE.get(suffix, ""),
            _vat_number(i) if suffix != "MTÜ" and rng.random() < 0.35 else "",
            status,
            STATUS_TEXT[status],
            dt.date.fromordinal(start + rng.randrange(span)).strftime("%d.%m.%Y"),
            "",
            street,
            ehak,
            place,
            postal,
            str(rng.randint(2_000_000, 3_500_000)),
            "",
            f"{_reverse_place(place)}, {street}",
            f"https://ariregister.rik.ee/est/company/{code}",
        ]
    yield from pending

"""The Estonian Business Register check: is a registration code a known company?

The register publishes its basic data daily as one zipped CSV of ~373,000 rows
(``ettevotja_rekvisiidid__lihtandmed.csv.zip``). Parsing that takes seconds, and
every ``import-clients`` needs it, so the first load writes a compact index to
``paths.register_dir()`` keyed by the zip's size and mtime; later loads read that
index with one ``read()`` and answer lookups by binary search, without parsing
anything.

Index file layout (little-endian; no pickle, so a tampered cache cannot run code)::

    header   magic "TSREGIX\\x01", source size, source mtime_ns, count n,
             names length, crc32 of everything after the header
    codes    n x uint32, ascending (the 8-digit code as a number)
    status   n x 1 byte (R, L or N)
    offsets  (n + 1) x uint32 into the names blob
    names    UTF-8, concatenated

A cache for another size/mtime, a short file or a bad checksum is ignored and
rebuilt; the cache is an optimisation and never a reason to fail.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import hashlib
import io
import logging
import os
import struct
import sys
import tempfile
import zipfile
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trigon_sync import paths
from trigon_sync.errors import ApiError, ServiceUnavailable, UsageError
from trigon_sync.registry_codes import normalise_code

if TYPE_CHECKING:
    import httpx  # only the download needs it: reading the register must not load HTTP

log = logging.getLogger(__name__)

REGISTER_CSV_NAME = "ettevotja_rekvisiidid__lihtandmed.csv"
REGISTER_ZIP_NAME = f"{REGISTER_CSV_NAME}.zip"
#: The register's open-data download (avaandmed.ariregister.rik.ee), updated daily.
DEFAULT_REGISTER_URL = (
    "https://avaandmed.ariregister.rik.ee/sites/default/files/avaandmed/" + REGISTER_ZIP_NAME
)

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

#: Statuses present in the file; deleted companies are simply absent.
STATUS_TEXT: dict[str, str] = {
    "R": "Registrisse kantud",
    "L": "Likvideerimisel",
    "N": "Pankrotis",
}


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


@dataclass(frozen=True)
class RegisterEntry:
    """One company as the register knows it."""

    code: str
    name: str
    status: str

    @property
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.status, self.status)


# --------------------------------------------------------------------------- index


_MAGIC = b"TSREGIX\x01"
_HEADER = struct.Struct("<8sQqIII")


def _is_plain_code(text: str) -> bool:
    return len(text) == 8 and text.isascii() and text.isdigit()


def _u32() -> array[int]:
    codes = array("I")
    if codes.itemsize != 4:  # pragma: no cover - every supported platform has 4-byte "I"
        raise RuntimeError("array('I') is not 4 bytes wide on this platform")
    return codes


def _to_le(values: array[int]) -> bytes:
    if sys.byteorder == "big":  # pragma: no cover - little-endian CI
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _from_le(data: bytes | memoryview) -> array[int]:
    values = _u32()
    values.frombytes(data)
    if sys.byteorder == "big":  # pragma: no cover - little-endian CI
        values.byteswap()
    return values


class RegisterIndex:
    """Registration code -> (name, status), compact and sorted for binary search.

    Build it with :meth:`load` (cached) or :meth:`build` (always parses); tests and
    the sandbox can use :meth:`from_entries`.
    """

    def __init__(
        self,
        codes: array[int],
        statuses: bytes,
        offsets: array[int],
        names: bytes,
        *,
        source: Path | None = None,
        from_cache: bool = False,
    ) -> None:
        if not (len(codes) == len(statuses) == len(offsets) - 1):
            raise ValueError("index arrays disagree in length")
        self._codes = codes
        self._statuses = statuses
        self._offsets = offsets
        self._names = names
        self.source = source
        self.from_cache = from_cache

    # construction ------------------------------------------------------------

    @classmethod
    def from_entries(
        cls, entries: Iterable[RegisterEntry], *, source: Path | None = None
    ) -> RegisterIndex:
        """An index of ``entries``; a code seen twice keeps its first entry."""
        return cls._from_triples(((e.code, e.name, e.status) for e in entries), source=source)

    @classmethod
    def _from_triples(
        cls, triples: Iterable[tuple[str, str, str]], *, source: Path | None
    ) -> RegisterIndex:
        by_code: dict[int, tuple[str, str]] = {}
        for raw_code, name, status in triples:
            # The register's own codes are already 8 plain digits; skip the regex for them.
            code = raw_code if _is_plain_code(raw_code) else normalise_code(raw_code)
            if code is None:
                continue
            by_code.setdefault(int(code), (name.strip(), status.strip()[:1] or "?"))
        codes = _u32()
        offsets = _u32()
        statuses = bytearray()
        names = bytearray()
        for number in sorted(by_code):
            name, status = by_code[number]
            codes.append(number)
            statuses += status.encode("ascii", "replace")[:1]
            offsets.append(len(names))
            names += name.encode("utf-8")
        offsets.append(len(names))
        return cls(codes, bytes(statuses), offsets, bytes(names), source=source)

    @classmethod
    def build(cls, path: Path) -> RegisterIndex:
        """Parse the register zip at ``path`` (no cache involved)."""
        return cls._from_triples(_read_register_rows(path), source=path)

    @classmethod
    def load(cls, path: Path, *, cache_dir: Path | None = None) -> RegisterIndex:
        """The index for ``path``, from the cache when it matches the file, else built and cached.

        ``cache_dir`` defaults to ``paths.register_dir()``.
        """
        stat = _stat(path)
        cache = cache_file_for(path, cache_dir)
        cached = _read_cache(cache, size=stat.st_size, mtime_ns=stat.st_mtime_ns, source=path)
        if cached is not None:
            return cached
        index = cls.build(path)
        _write_cache(index, cache, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
        return index

    # queries -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.lookup(code) is not None

    def _position(self, code: str) -> int | None:
        normalised = normalise_code(code)
        if normalised is None:
            return None
        number = int(normalised)
        i = bisect.bisect_left(self._codes, number)
        if i < len(self._codes) and self._codes[i] == number:
            return i
        return None

    def lookup(self, code: str) -> RegisterEntry | None:
        """The register's entry for ``code`` (any spacing accepted), or None if absent."""
        i = self._position(code)
        if i is None:
            return None
        name = self._names[self._offsets[i] : self._offsets[i + 1]].decode("utf-8")
        return RegisterEntry(f"{self._codes[i]:08d}", name, chr(self._statuses[i]))

    def __iter__(self) -> Iterator[RegisterEntry]:
        for i, number in enumerate(self._codes):
            name = self._names[self._offsets[i] : self._offsets[i + 1]].decode("utf-8")
            yield RegisterEntry(f"{number:08d}", name, chr(self._statuses[i]))

    # serialisation -----------------------------------------------------------

    def _payload(self) -> bytes:
        return b"".join((_to_le(self._codes), self._statuses, _to_le(self._offsets), self._names))


# --------------------------------------------------------------------------- cache


def cache_file_for(path: Path, cache_dir: Path | None = None) -> Path:
    """Where the index of the register file ``path`` is cached (one file per source path)."""
    directory = cache_dir if cache_dir is not None else paths.register_dir()
    digest = hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:16]
    return directory / f"{path.name}.{digest}.idx"


def _read_cache(cache: Path, *, size: int, mtime_ns: int, source: Path) -> RegisterIndex | None:
    try:
        data = cache.read_bytes()
    except OSError:
        return None
    if len(data) < _HEADER.size:
        return None
    magic, c_size, c_mtime, count, names_len, crc = _HEADER.unpack_from(data)
    if magic != _MAGIC or c_size != size or c_mtime != mtime_ns:
        return None
    body = memoryview(data)[_HEADER.size :]
    codes_end = 4 * count
    status_end = codes_end + count
    offsets_end = status_end + 4 * (count + 1)
    if len(body) != offsets_end + names_len or zlib.crc32(body) != crc:
        log.info("register index cache %s is corrupt; rebuilding", cache)
        return None
    offsets = _from_le(body[status_end:offsets_end])
    if offsets[0] != 0 or offsets[-1] != names_len:
        return None
    return RegisterIndex(
        _from_le(body[:codes_end]),
        bytes(body[codes_end:status_end]),
        offsets,
        bytes(body[offsets_end:]),
        source=source,
        from_cache=True,
    )


def _write_cache(index: RegisterIndex, cache: Path, *, size: int, mtime_ns: int) -> None:
    """Write the cache atomically; failing to write it only costs the next run time."""
    payload = index._payload()
    header = _HEADER.pack(
        _MAGIC, size, mtime_ns, len(index), len(index._names), zlib.crc32(payload)
    )
    try:
        cache.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _atomic_write(cache, (header, payload))
    except OSError as exc:
        log.warning("could not cache the register index at %s: %s", cache, exc)


def _atomic_write(target: Path, chunks: Iterable[bytes]) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- reading the zip


def _stat(path: Path) -> os.stat_result:
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
    _stat(path)
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


def _read_register_rows(path: Path) -> Iterator[tuple[str, str, str]]:
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


# --------------------------------------------------------------------------- download

ProgressCallback = Callable[[int, int | None], None]


def download_register(
    url: str,
    *,
    client: httpx.Client,
    dest_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Fetch the register zip from ``url`` into ``dest_dir`` (default ``paths.register_dir()``).

    The file is streamed to a temporary name, checked to be a register zip, and only
    then moved over the previous file, so a failed or wrong download (an HTML error
    page, a truncated body) never replaces a good file. ``on_progress(done, total)``
    is called as bytes arrive; ``total`` is None when the server sends no length.
    """
    directory = dest_dir if dest_dir is not None else paths.register_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = directory / REGISTER_ZIP_NAME
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{REGISTER_ZIP_NAME}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream_to(url, client, out, on_progress)
            out.flush()
            os.fsync(out.fileno())
        try:
            check_register_file(tmp)
        except RegisterFileError as exc:
            raise ApiError(
                f"the file downloaded from {url} is not the Business Register file: {exc.problem}",
                status=200,
                hint="check the URL (`--url`) or try again later",
            ) from None
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _stream_to(
    url: str, client: httpx.Client, out: io.BufferedWriter, on_progress: ProgressCallback | None
) -> None:
    import httpx

    hint = "check the network and the URL, then run `trigon-sync register update` again"
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise ApiError(
                    f"downloading the Business Register file failed: HTTP "
                    f"{response.status_code} from {url}",
                    status=response.status_code,
                    hint=hint,
                )
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isascii() and length.isdigit() else None
            done = 0
            for chunk in response.iter_bytes():
                out.write(chunk)
                done += len(chunk)
                if on_progress is not None:
                    on_progress(done, total)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(
            f"downloading the Business Register file from {url} failed: {exc}", hint=hint
        ) from None

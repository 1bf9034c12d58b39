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
rebuilt; the cache is an optimisation and never a reason to fail. Reading the zip's CSV
is business_register/file_format.py's job, fetching the file business_register/source.py's.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import struct
import sys
import zlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from trigon_sync.business_register.file_format import read_register_rows, stat_register_file
from trigon_sync.registration_codes import normalise_code
from trigon_sync.store import atomic, paths

log = logging.getLogger(__name__)

#: Statuses present in the file; deleted companies are simply absent.
STATUS_TEXT: dict[str, str] = {
    "R": "Registrisse kantud",
    "L": "Likvideerimisel",
    "N": "Pankrotis",
}


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
        # Read into flat arrays (a few bytes a row), not a dict of tuples of strings (a
        # few hundred): the first load of a 373,000-row register stays well under 100 MB.
        raw_codes = _u32()
        raw_statuses = bytearray()
        raw_offsets = _u32()
        raw_names = bytearray()
        for raw_code, name, status in triples:
            # The register's own codes are already 8 plain digits; skip the regex for them.
            code = raw_code if _is_plain_code(raw_code) else normalise_code(raw_code)
            if code is None:
                continue
            raw_codes.append(int(code))
            raw_statuses += (status.strip()[:1] or "?").encode("ascii", "replace")[:1]
            raw_offsets.append(len(raw_names))
            raw_names += name.strip().encode("utf-8")
        raw_offsets.append(len(raw_names))
        # A stable sort by code: a code seen twice keeps its first row.
        order = sorted(range(len(raw_codes)), key=raw_codes.__getitem__)
        codes = _u32()
        offsets = _u32()
        statuses = bytearray()
        names = bytearray()
        for i in order:
            number = raw_codes[i]
            if codes and codes[-1] == number:
                continue
            codes.append(number)
            statuses.append(raw_statuses[i])
            offsets.append(len(names))
            names += raw_names[raw_offsets[i] : raw_offsets[i + 1]]
        offsets.append(len(names))
        return cls(codes, bytes(statuses), offsets, bytes(names), source=source)

    @classmethod
    def build(cls, path: Path) -> RegisterIndex:
        """Parse the register zip at ``path`` (no cache involved)."""
        return cls._from_triples(read_register_rows(path), source=path)

    @classmethod
    def load(cls, path: Path, *, cache_dir: Path | None = None) -> RegisterIndex:
        """The index for ``path``, from the cache when it matches the file, else built and cached.

        ``cache_dir`` defaults to ``paths.register_dir()``.
        """
        stat = stat_register_file(path)
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
        paths.ensure_dir(cache.parent)
        with atomic.replacing(cache) as out:
            out.write(header)
            out.write(payload)
    except OSError as exc:
        log.warning("could not cache the register index at %s: %s", cache, exc)

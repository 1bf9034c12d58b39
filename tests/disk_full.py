"""A full disk under one directory, simulated at the OS calls that report it.

On a full file system, creating a file still works but every byte that needs a new block
fails with ENOSPC: at ``write`` or, with delayed allocation, at ``fsync``. Overwriting
bytes a file already has needs no block and succeeds (ext4, xfs, tmpfs), unless the file
system copies on write (btrfs, ZFS): ``copy_on_write=True`` makes those fail too.

:class:`FullDisk` patches ``os.write``, ``os.pwrite`` and ``os.fsync`` (the calls every
writer of the product ends in: the atomic writer and the appenders fsync each file) so
that, for regular files under ``root``, any byte beyond what the file held when the disk
filled fails with ENOSPC. Nothing of the code under test is replaced.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import pytest

Inode = tuple[int, int]


class FullDisk:
    """While :attr:`full`, files under ``root`` cannot grow (see the module docstring)."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root.resolve()
        self.full = False
        self.copy_on_write = False
        self.refused = 0
        self._sizes: dict[Inode, int] = {}
        self._write, self._pwrite, self._fsync = os.write, os.pwrite, os.fsync
        monkeypatch.setattr(os, "write", self._guarded_write)
        monkeypatch.setattr(os, "pwrite", self._guarded_pwrite)
        monkeypatch.setattr(os, "fsync", self._guarded_fsync)

    def fill(self, *, copy_on_write: bool = False) -> None:
        """The disk is full from now on: remember how large every file under root is."""
        self._sizes = {}
        for path in self.root.rglob("*") if self.root.exists() else ():
            if path.is_file() and not path.is_symlink():
                info = path.stat()
                self._sizes[(info.st_dev, info.st_ino)] = info.st_size
        self.full, self.copy_on_write = True, copy_on_write

    def free(self) -> None:
        """Space is back."""
        self.full = False

    def _limit(self, fd: int) -> int | None:
        """Bytes the file behind ``fd`` may hold now (None: not ours to refuse)."""
        if not self.full:
            return None
        try:
            info = os.fstat(fd)
            where = Path(f"/proc/self/fd/{fd}").readlink()
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode) or not where.is_relative_to(self.root):
            return None
        if self.copy_on_write:
            return 0
        return self._sizes.get((info.st_dev, info.st_ino), 0)

    def _refuse(self) -> OSError:
        self.refused += 1
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def _guarded_write(self, fd: int, data: Any) -> int:
        limit = self._limit(fd)
        if limit is not None:
            flags = _flags(fd)
            offset = os.fstat(fd).st_size if flags & os.O_APPEND else os.lseek(fd, 0, os.SEEK_CUR)
            if offset + len(data) > limit:
                raise self._refuse()
        return self._write(fd, data)

    def _guarded_pwrite(self, fd: int, data: Any, offset: int) -> int:
        limit = self._limit(fd)
        if limit is not None and offset + len(data) > limit:
            raise self._refuse()
        return self._pwrite(fd, data, offset)

    def _guarded_fsync(self, fd: Any) -> None:
        number = fd if isinstance(fd, int) else fd.fileno()
        limit = self._limit(number)
        if limit is not None and (os.fstat(number).st_size > limit or self.copy_on_write):
            raise self._refuse()
        self._fsync(fd)


def _flags(fd: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_GETFL)

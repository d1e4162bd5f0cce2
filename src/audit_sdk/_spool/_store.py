"""The on-disk layout of a spool directory, shared by the processor and `audit-sdk status`.

    SPOOL_DIR/
      p<pid>-<random>/           one per writing process (a forked child gets its own)
        lock                     flock'd (exclusive) by the owner for its whole life
        seg-000000000001.log     append-only segments of framed lines (see _format)
        ack                      "SEGMENT OFFSET CRC": everything before it was acknowledged
        state.json               the owner's counters, rewritten about once a second
        adopter                  pid of the process that adopted this directory, if any

A directory whose lock no process holds belongs to a process that is gone:
any process using the same spool adopts it (takes the lock), sends what is
not acknowledged and removes the directory. A new directory is prepared under
a `.tmp-` name and renamed once its lock is held, so it is never seen unlocked.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from audit_sdk._spool._format import KIND_RECORD, iter_lines, observed_of

__all__ = [
    "AckPosition",
    "ProcDir",
    "ProcDirStatus",
    "SpoolStatus",
    "list_segments",
    "read_ack",
    "read_status",
    "segment_path",
]

LOCK = "lock"
ACK = "ack"
STATE = "state.json"
ADOPTER = "adopter"
_SEG_PREFIX = "seg-"
_SEG_SUFFIX = ".log"
_TMP_PREFIX = ".tmp-"
_TMP_GRACE = 60.0  # seconds
_PROC_NAME = re.compile(r"p[0-9]+-[0-9a-f]{8}\Z")
_OWN_FILE = re.compile(r"(seg-[0-9]{12}\.log|ack|state\.json|\.state\.json\.tmp|adopter|lock)\Z")

AckPosition = tuple[int, int]  # (segment number, byte offset): everything before is acknowledged


def segment_path(directory: Path, number: int) -> Path:
    return directory / f"{_SEG_PREFIX}{number:012d}{_SEG_SUFFIX}"


def list_segments(directory: Path) -> list[int]:
    out = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    for name in names:
        if name.startswith(_SEG_PREFIX) and name.endswith(_SEG_SUFFIX):
            digits = name[len(_SEG_PREFIX) : -len(_SEG_SUFFIX)]
            if digits.isdigit():
                out.append(int(digits))
    return sorted(out)


def _ack_line(position: AckPosition) -> bytes:
    head = b"%012d %016d" % position
    return b"%s %08x\n" % (head, zlib.crc32(head))


def read_ack(directory: Path) -> AckPosition:
    """The acknowledged position; (0, 0) (resend everything) when absent or unreadable."""
    try:
        data = (directory / ACK).read_bytes()
    except OSError:
        return (0, 0)
    parts = data.split()
    if len(parts) != 3:
        return (0, 0)
    head = data[:29]
    try:
        if int(parts[2], 16) != zlib.crc32(head):
            return (0, 0)
        return (int(parts[0]), int(parts[1]))
    except ValueError:
        return (0, 0)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _try_lock(path: Path, *, create: bool = False) -> int | None:
    """An fd holding the exclusive lock on `path`, or None when another process holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0), 0o640)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def is_locked(directory: Path) -> bool:
    """Whether a live process holds the directory (probes with a shared lock, at once released)."""
    try:
        fd = os.open(directory / LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases the probe's lock
    return False


class ProcDir:
    """A process directory this process holds the lock of (its own, or adopted)."""

    def __init__(self, path: Path, lock_fd: int, *, adopted: bool) -> None:
        self.path = path
        self.lock_fd: int | None = lock_fd
        self.adopted = adopted
        self._ack_fd: int | None = None

    @classmethod
    def create(cls, spool_dir: Path, *, sync: bool) -> ProcDir:
        spool_dir.mkdir(parents=True, exist_ok=True)
        name = f"p{os.getpid()}-{secrets.token_hex(4)}"
        tmp = spool_dir / f"{_TMP_PREFIX}{name}"
        tmp.mkdir(mode=0o750)
        fd = os.open(tmp / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        fcntl.flock(fd, fcntl.LOCK_EX)
        final = spool_dir / name
        os.rename(tmp, final)
        if sync:
            fsync_dir(final)
            fsync_dir(spool_dir)
        return cls(final, fd, adopted=False)

    @classmethod
    def try_adopt(cls, path: Path) -> ProcDir | None:
        fd = _try_lock(path / LOCK, create=True)  # a directory without one is left over
        if fd is None:
            return None
        if not path.is_dir():  # removed by its adopter between listdir and lock
            os.close(fd)
            return None
        with contextlib.suppress(OSError):
            (path / ADOPTER).write_text(f"{os.getpid()}\n", encoding="ascii")
        return cls(path, fd, adopted=True)

    def write_ack(self, position: AckPosition, *, sync: bool) -> None:
        if self._ack_fd is None:
            self._ack_fd = os.open(self.path / ACK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        os.pwrite(self._ack_fd, _ack_line(position), 0)
        if sync:
            os.fdatasync(self._ack_fd)

    def write_state(self, state: dict[str, Any]) -> None:
        tmp = self.path / f".{STATE}.tmp"
        tmp.write_bytes(orjson.dumps(state))
        os.replace(tmp, self.path / STATE)

    def close(self) -> None:
        """Release the directory (closing the lock fd releases the lock); keep its files."""
        if self._ack_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._ack_fd)
            self._ack_fd = None
        if self.lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.lock_fd)
            self.lock_fd = None

    def forget_in_child(self) -> None:
        """In a forked child: drop the inherited fds without unlocking the parent's lock."""
        for fd in (self._ack_fd, self.lock_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._ack_fd = self.lock_fd = None

    def remove(self) -> None:
        """Delete the directory (all acknowledged); the lock is released last.

        Only the spool's own files are deleted: a directory holding anything
        else is left in place.
        """
        for name in os.listdir(self.path):
            if name != LOCK and _OWN_FILE.match(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path / name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path / LOCK)
        with contextlib.suppress(OSError):
            os.rmdir(self.path)
        self.close()


def other_proc_dirs(spool_dir: Path, own: Path | None, *, clean: bool = True) -> list[Path]:
    """The process directories in `spool_dir` (only names the spool makes), except `own`.

    `clean` removes directories a process left half-made (never holding a record).
    """
    try:
        names = sorted(os.listdir(spool_dir))
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        path = spool_dir / name
        if name.startswith(_TMP_PREFIX) and _PROC_NAME.match(name[len(_TMP_PREFIX) :]):
            if clean:
                _remove_stale_tmp(path)
            continue
        if not _PROC_NAME.match(name) or (own is not None and path == own) or not path.is_dir():
            continue
        out.append(path)
    return out


def _remove_stale_tmp(path: Path) -> None:
    # a process died between mkdir and rename: the directory never held a record
    try:
        if time.time() - path.stat().st_mtime < _TMP_GRACE:
            return  # may be a process creating its directory right now
    except FileNotFoundError:
        return
    fd = _try_lock(path / LOCK)
    if fd is None and (path / LOCK).exists():
        return
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path / LOCK)
        with contextlib.suppress(OSError):
            os.rmdir(path)
    finally:
        if fd is not None:
            os.close(fd)


# -- reading a spool without owning it (status, adoption) ------------------


@dataclass(slots=True)
class PendingScan:
    """Unacknowledged records of one directory, read from disk."""

    records: int = 0
    corrupt: int = 0
    torn_bytes: int = 0
    bytes: int = 0
    segments: int = 0
    oldest_unsent_ns: int | None = None
    # (segment, end offset, observed ns) of each unacknowledged record, when asked for
    entries: list[tuple[int, int, int]] = field(default_factory=list)


def scan_pending(directory: Path, ack: AckPosition, *, keep_entries: bool) -> PendingScan:
    scan = PendingScan()
    for number in list_segments(directory):
        path = segment_path(directory, number)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        scan.segments += 1
        scan.bytes += size
        if number < ack[0]:
            continue
        start = ack[1] if number == ack[0] else 0
        try:
            with open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read()
        except FileNotFoundError:
            continue
        last_end = start
        for line in iter_lines(data, start):
            last_end = line.end
            if not line.ok:
                scan.corrupt += 1
            elif line.kind == KIND_RECORD:
                scan.records += 1
                if scan.oldest_unsent_ns is None or keep_entries:
                    observed = observed_of(line.payload)
                    if scan.oldest_unsent_ns is None:
                        scan.oldest_unsent_ns = observed
                    if keep_entries:
                        scan.entries.append((number, line.end, observed))
        scan.torn_bytes += start + len(data) - last_end
    return scan


@dataclass(frozen=True, slots=True)
class ProcDirStatus:
    name: str
    locked: bool  # a live process owns it (or has adopted it)
    adopter_pid: int | None
    records: int  # unacknowledged records on disk
    bytes: int
    segments: int
    corrupt_lines: int
    torn_bytes: int
    oldest_unsent_age: float | None  # seconds
    state: dict[str, Any]  # the owner's last counters (state.json), {} when absent

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "locked": self.locked,
            "adopter_pid": self.adopter_pid,
            "records": self.records,
            "bytes": self.bytes,
            "segments": self.segments,
            "corrupt_lines": self.corrupt_lines,
            "torn_bytes": self.torn_bytes,
            "oldest_unsent_age": self.oldest_unsent_age,
            "state": self.state,
        }


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    spool_dir: str
    processes: tuple[ProcDirStatus, ...]

    @property
    def records(self) -> int:
        return sum(p.records for p in self.processes)

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.processes)

    @property
    def oldest_unsent_age(self) -> float | None:
        ages = [p.oldest_unsent_age for p in self.processes if p.oldest_unsent_age is not None]
        return max(ages) if ages else None

    @property
    def lost(self) -> int:
        return sum(int(p.state.get("lost", 0)) for p in self.processes)

    @property
    def corrupt_lines(self) -> int:
        return sum(p.corrupt_lines for p in self.processes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spool_dir": self.spool_dir,
            "records": self.records,
            "bytes": self.bytes,
            "oldest_unsent_age": self.oldest_unsent_age,
            "lost": self.lost,
            "corrupt_lines": self.corrupt_lines,
            "processes": [p.to_dict() for p in self.processes],
        }


def read_status(spool_dir: str | os.PathLike[str]) -> SpoolStatus:
    """What a spool directory holds, read from disk; safe while processes write to it.

    Raises FileNotFoundError / NotADirectoryError when `spool_dir` is not a directory.
    """
    root = Path(spool_dir)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    now = time.time_ns()
    out = []
    for path in other_proc_dirs(root, None, clean=False):
        scan = scan_pending(path, read_ack(path), keep_entries=False)
        try:
            state = orjson.loads((path / STATE).read_bytes())
            if not isinstance(state, dict):
                state = {}
        except (OSError, orjson.JSONDecodeError):
            state = {}
        try:
            adopter: int | None = int((path / ADOPTER).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            adopter = None
        age = None
        if scan.oldest_unsent_ns is not None:
            age = max(0.0, (now - scan.oldest_unsent_ns) / 1e9)
        out.append(
            ProcDirStatus(
                name=path.name,
                locked=is_locked(path),
                adopter_pid=adopter,
                records=scan.records,
                bytes=scan.bytes,
                segments=scan.segments,
                corrupt_lines=scan.corrupt,
                torn_bytes=scan.torn_bytes,
                oldest_unsent_age=age,
                state=state,
            )
        )
    return SpoolStatus(str(root), tuple(out))

"""Trail files: discovery (files, directories, rotated and gzip segments) and line reading.

A file is read in chunks of whole lines so that `--jobs` can spread one large
file over several processes. A chunk numbers its lines from 1; the engine adds
the line count of the file's earlier chunks afterwards, so every record keeps
its exact file and line.
"""

from __future__ import annotations

import gzip
import itertools
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from audit_sdk.verify import UnusableInput

__all__ = ["Chunk", "ChunkReader", "CorruptInput", "discover", "plan_chunks"]

# Files picked up inside a directory: the file exporter's active file and its
# rotated segments (audit.jsonl, audit-2026-05-13T10-00-00.000.jsonl), the
# embedded sink's file, and gzip-compressed copies of any of them.
TRAIL_NAME = re.compile(r"\.(?:jsonl|json|ndjson|log)(?:\.gz)?$", re.IGNORECASE)
_GZIP_MAGIC = b"\x1f\x8b"


class CorruptInput(Exception):
    """A compressed file cannot be read on (truncated or corrupt gzip data)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """Lines starting in bytes [start, end) of a file (the whole file when compressed)."""

    number: int
    path: str
    start: int
    end: int | None
    compressed: bool
    size: int  # input bytes this chunk accounts for (for progress)


def discover(paths: list[str]) -> list[str]:
    """The trail files named by `paths`, directories expanded, each file once."""
    files: list[str] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        real = os.path.realpath(path)
        if real in seen:
            return
        seen.add(real)
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise UnusableInput(f"{path}: cannot be read ({exc.strerror})") from None
        files.append(path)

    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if not name.startswith(".") and TRAIL_NAME.search(name):
                        full = os.path.join(root, name)
                        if os.path.isfile(full):
                            add(full)
        elif os.path.exists(path):
            if not os.path.isfile(path):
                raise UnusableInput(f"{path}: not a regular file or directory")
            add(path)
        else:
            raise UnusableInput(f"{path}: no such file or directory")
    if not files:
        raise UnusableInput(
            f"no trail files (*.jsonl, *.json, *.ndjson, *.log, *.gz) in {', '.join(paths)}"
        )
    return files


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def plan_chunks(files: list[str], chunk_bytes: int | None) -> list[Chunk]:
    """Split files into chunks of about `chunk_bytes` at line starts (None: one per file)."""
    chunks: list[Chunk] = []
    for path in files:
        size = os.path.getsize(path)
        if _is_gzip(path) or chunk_bytes is None or size <= chunk_bytes:
            chunks.append(Chunk(len(chunks), path, 0, None, _is_gzip(path), size))
            continue
        bounds = [0]
        with open(path, "rb") as handle:
            position = chunk_bytes
            while position < size:
                handle.seek(position)
                handle.readline()
                boundary = handle.tell()
                if boundary >= size:
                    break
                bounds.append(boundary)
                position = boundary + chunk_bytes
        bounds.append(size)
        for start, end in itertools.pairwise(bounds):
            chunks.append(Chunk(len(chunks), path, start, end, False, end - start))
    return chunks


class ChunkReader:
    """Iterates (line number within the chunk, raw line); `consumed` counts input bytes read."""

    def __init__(self, chunk: Chunk) -> None:
        self.chunk = chunk
        self.consumed = 0

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        chunk = self.chunk
        with open(chunk.path, "rb") as raw:
            if chunk.compressed:
                yield from self._gzip_lines(raw)
                return
            raw.seek(chunk.start)
            position = chunk.start
            end = chunk.end
            for number, line in enumerate(raw, 1):
                if end is not None and position >= end:
                    break
                position += len(line)
                self.consumed = position - chunk.start
                yield number, line

    def _gzip_lines(self, raw: BinaryIO) -> Iterator[tuple[int, bytes]]:
        number = 0
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                for number, line in enumerate(unzipped, 1):
                    self.consumed = raw.tell()
                    yield number, line
        except (EOFError, OSError, zlib.error) as exc:
            raise CorruptInput(
                f"gzip data is corrupt or truncated after line {number} ({exc})"
            ) from None
        self.consumed = self.chunk.size

"""What a parse worker process runs: raw bytes -> a LoadItem ready for the loader.

``ingest`` and ``reparse`` parse in spawned worker processes while the main process
loads. A spawned worker imports the module of the function it runs, so this module
imports only the parser and the standard library: no click, psycopg, SQLAlchemy or
requests (about 50 MB per worker that a parser never uses). ``tests/test_worker.py``
keeps it that way.

A worker hands the loading process a ``LoadItem``: the filing's table rows (built here,
``ingest.rows``), its raw bytes' SHA-256, size and gzip copy; neither the parsed document
nor the raw bytes cross over.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .parse import parse_file
from .records import ParsedFiling, ParseError, first_line
from .rows import FilingRows, build_rows

# Level 3: ~140 us for a 15 KB filing and 13.7% of the size, against ~200 us / 12.5% at 6
# (measured on the corpus); levels 1-3 cost about the same.
GZIP_LEVEL = 3


@dataclass(slots=True)
class LoadItem:
    """One filing as the loader takes it: its rows, and its raw bytes hashed and packed.

    Built by ``prepare``, in a parse worker for ``ingest``/``reparse`` (only this small,
    picklable object crosses to the loading process: no document, no raw bytes).
    """

    rows: FilingRows
    source_name: str | None
    raw_sha256: str
    raw_size: int
    raw_gzip: bytes | None  # None: the loader compresses ``raw`` if it stores it
    raw: bytes | None = None  # kept only while ``raw_gzip`` is None

    @property
    def accession_number(self) -> str:
        return self.rows.accession_number

    @property
    def source_kind(self) -> str:
        return self.rows.source_kind

    @property
    def parse_error(self) -> str | None:
        return self.rows.parse_error


@dataclass(slots=True)
class FileFailure:
    """A file that could not be turned into a keyed filing (no row in filings)."""

    source_name: str
    stage: str  # 'read' | 'parse'
    message: str


Outcome = LoadItem | FileFailure
T = TypeVar("T")


def prepare(
    parsed: ParsedFiling,
    source_name: str | None = None,
    *,
    packed: bytes | None = None,
    compress: bool = True,
) -> LoadItem:
    """Rows, hash and compressed copy of one parsed filing, computed now.

    ``packed``: the raw bytes already gzip-compressed (reparse reads them so from the
    database), reused instead of compressing again. ``compress=False`` keeps the raw
    bytes instead, for the loader to compress only if it stores them.
    """
    raw = parsed.raw
    raw_has_nul = b"\x00" in raw
    if packed is None and compress:
        packed = pack_raw(raw)
    return LoadItem(
        rows=build_rows(parsed, source_name, raw_has_nul),
        source_name=source_name,
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        raw_size=len(raw),
        raw_gzip=packed,
        raw=None if packed is not None else raw,
    )


def pack_raw(raw: bytes) -> bytes:
    """The raw bytes as ``raw_submissions`` stores them (compression 'gzip')."""
    return gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)


def read_and_parse(task: tuple[str, str | None]) -> Outcome:
    """One file (``path``, optional accession override) -> a LoadItem or a FileFailure."""
    path, accession = task
    try:
        raw = Path(path).read_bytes()
        name = path
        if path.lower().endswith(".gz"):
            raw = gzip.decompress(raw)
            name = path[:-3]
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        return FileFailure(path, "read", f"cannot read: {first_line(exc)}")
    try:
        parsed = parse_file(raw, name, accession)
    except ParseError as exc:
        return FileFailure(path, "parse", str(exc))
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the run
        return FileFailure(path, "parse", f"internal parser error: {first_line(exc)}")
    return prepare(parsed, source_name=path)


def reparse_stored(task: tuple[str, str | None, bytes, str | None]) -> Outcome:
    """A stored filing (accession, source name, raw as stored, its compression) -> a
    LoadItem keyed by the stored accession, or a FileFailure."""
    accession, source_name, stored, compression = task
    label = source_name or accession
    try:
        raw = gzip.decompress(stored) if compression == "gzip" else stored
    except (OSError, EOFError, zlib.error) as exc:
        return FileFailure(label, "read", f"{accession}: stored raw unreadable: {exc}")
    try:
        parsed = parse_file(raw, source_name or f"{accession}.txt", accession)
    except ParseError as exc:
        return FileFailure(label, "parse", f"{accession}: {exc}")
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the run
        return FileFailure(label, "parse", f"{accession}: internal parser error: {exc}")
    return prepare(
        parsed, source_name=source_name, packed=stored if compression == "gzip" else None
    )


def run_chunk_pickled(work: Callable[[T], Outcome], group: list[T]) -> bytes:
    """``work`` on each task of a group (one round trip to a worker per group), the list of
    outcomes pickled here: the loading process keeps finished chunks as these compact
    bytes until it uses them. Defined here, not beside the pool in ``ingest.cli``, so that
    a worker never imports that."""
    return pickle.dumps([work(task) for task in group], protocol=pickle.HIGHEST_PROTOCOL)

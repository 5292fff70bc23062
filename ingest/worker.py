"""What a parse worker runs, and the typed outcome every command's run loop carries.

``ingest.pipeline`` hands each work item to a *step* (read a file, unpack a stored raw
submission, or fetch from EDGAR) that returns an :class:`Outcome`: a :class:`LoadItem` ready
for the loader, or a failure with its stage and message. Bulk steps run in spawned worker
processes, and a spawned worker imports the module of the function it runs, so this module
imports only the parser and the standard library: no click, psycopg, SQLAlchemy or requests
(about 50 MB per worker that a parser never uses). ``tests/test_worker.py`` keeps it so.

A worker hands the loading process a ``LoadItem``: the filing's table rows (built here,
``ingest.rows``), its raw bytes' SHA-256, size and gzip copy; neither the parsed document
nor the raw bytes cross over.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from .errors import first_line
from .parse import parse_file
from .records import ACCESSION_RE, ParsedFiling, ParseError, is_parse_problem
from .rows import FilingRows, build_rows

# Level 3: ~140 us for a 15 KB filing and 13.7% of the size, against ~200 us / 12.5% at 6
# (measured on the corpus); levels 1-3 cost about the same.
GZIP_LEVEL = 3

# The most bytes one input may hold, read or after gunzip: a real ownership submission is a
# few KB to a few MB (exhibits included); a bigger file is not one, and a gzip bomb expanding
# to tens of GB must be one recorded error, not a MemoryError that stops the batch.
MAX_INPUT_BYTES = 64 * 1024 * 1024


class Status(StrEnum):
    """What happened to one work item in a run."""

    LOADED = "loaded"  # new filing stored
    REPLACED = "replaced"  # stored again: new bytes or a newer parser
    UNCHANGED = "unchanged"  # same bytes, same parser: nothing written
    ALREADY_LOADED = "already_loaded"  # queued, but found stored (a killed run stored it)
    MISSING = "missing"  # EDGAR answered that it is not there (404, plain 403)
    FAILED = "failed"  # could not be read, fetched, parsed into a filing or stored


class Stage(StrEnum):
    """Where a failure happened (``ingest_errors.stage``)."""

    READ = "read"
    FETCH = "fetch"
    PARSE = "parse"
    LOAD = "load"
    DATASET = "dataset"  # a quarter of SEC's data sets that could not be read


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
class Outcome:
    """One work item's fate: ``item`` to load (``status`` set by the loader), or a failure.

    ``task`` is the source's own handle on the item (a queue row), returned to the source for
    its bookkeeping in the transaction that loads the batch.
    """

    source_name: str | None
    item: LoadItem | None = None
    status: Status | None = None
    accession_number: str | None = None
    stage: Stage | None = None
    error: str | None = None
    task: Any = None

    @classmethod
    def failure(
        cls, stage: Stage, error: str, source_name: str | None, accession_number: str | None = None,
        *, status: Status = Status.FAILED, task: Any = None,
    ) -> Outcome:
        """A failed item; an accession that is not well-formed (a user's --accession, say) is
        not recorded as one: the message says what it was."""
        if accession_number is not None and not ACCESSION_RE.match(accession_number):
            accession_number = None
        return cls(source_name, status=status, accession_number=accession_number, stage=stage,
                   error=error, task=task)

    @property
    def stored(self) -> bool:
        return self.status in (Status.LOADED, Status.REPLACED)

    @property
    def unparsed(self) -> bool:
        """Stored, but without a (complete) parsed document: its error says why."""
        item = self.item
        return self.stored and item is not None and is_parse_problem(item.parse_error, item.rows.filed_date)


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


# ---------------------------------------------------------------------------
# Steps: one work item -> one Outcome. The one mapping from failures to outcomes.
# ---------------------------------------------------------------------------


def parse_step(
    raw: bytes, name: str, accession: str | None, source_name: str | None,
    *, packed: bytes | None = None, task: Any = None,
) -> Outcome:
    """Parse raw bytes into a ready LoadItem; a file that is no filing is a parse failure."""
    try:
        parsed = parse_file(raw, name, accession)
    except ParseError as exc:
        return Outcome.failure(Stage.PARSE, f"parse failed: {exc}", source_name, accession, task=task)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the run
        message = f"parse failed: internal parser error ({type(exc).__name__}): {first_line(exc)}"
        return Outcome.failure(Stage.PARSE, message, source_name, accession, task=task)
    item = prepare(parsed, source_name=source_name, packed=packed)
    return Outcome(source_name, item=item, accession_number=parsed.accession_number, task=task)


class InputTooLarge(ValueError):
    pass


def read_input(path: str) -> bytes:
    """A file's bytes, gunzipped when its name ends in ``.gz``, at most MAX_INPUT_BYTES."""
    with open(path, "rb") as handle:  # follows symlinks; a loop raises OSError (ELOOP)
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_INPUT_BYTES:
            raise InputTooLarge(f"{size:,} bytes, over the {MAX_INPUT_BYTES:,}-byte cap")
        data = handle.read(MAX_INPUT_BYTES + 1)
    if not path.lower().endswith(".gz"):
        return data
    return gunzip_capped(data)


def gunzip_capped(data: bytes, limit: int = MAX_INPUT_BYTES) -> bytes:
    """gzip.decompress that stops at ``limit`` bytes of output instead of exhausting memory."""
    if data[:2] != b"\x1f\x8b":
        raise gzip.BadGzipFile("Not a gzipped file")
    out = bytearray()
    rest = data
    while rest:  # concatenated gzip members, as gzip.decompress reads them
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk = inflater.decompress(rest, limit + 1 - len(out))
        while True:
            out += chunk
            if len(out) > limit:
                raise InputTooLarge(f"expands to more than {limit:,} bytes (the cap)")
            if inflater.eof or not inflater.unconsumed_tail:
                break
            chunk = inflater.decompress(inflater.unconsumed_tail, limit + 1 - len(out))
        if not inflater.eof:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        rest = inflater.unused_data.lstrip(b"\x00")
    return bytes(out)


def read_file(task: tuple[str, str | None, str | None]) -> Outcome:
    """One local file (``path``, optional accession override, the problem found while looking
    for it, if any) -> an Outcome."""
    path, accession, problem = task
    if problem is not None:
        return Outcome.failure(Stage.READ, problem, path, accession)
    try:
        raw = read_input(path)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        return Outcome.failure(Stage.READ, f"cannot read: {first_line(exc)}", path, accession)
    name = path[:-3] if path.lower().endswith(".gz") else path
    return parse_step(raw, name, accession, path)


def reparse_stored(task: tuple[str, str | None, bytes, str | None]) -> Outcome:
    """A stored filing (accession, source name, raw as stored, its compression) -> an Outcome
    keyed by the stored accession."""
    accession, source_name, stored, compression = task
    label = source_name or accession
    try:
        raw = gunzip_capped(stored) if compression == "gzip" else stored
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        return Outcome.failure(
            Stage.READ, f"stored raw unreadable: {first_line(exc)}", label, accession
        )
    return parse_step(
        raw, source_name or f"{accession}.txt", accession, source_name,
        packed=stored if compression == "gzip" else None,
    )


def run_chunk_pickled(work: Callable[[T], Outcome], group: list[T]) -> bytes:
    """``work`` on each task of a group (one round trip to a worker per group), the list of
    outcomes pickled here: the loading process keeps finished chunks as these compact
    bytes until it uses them."""
    return pickle.dumps([work(task) for task in group], protocol=pickle.HIGHEST_PROTOCOL)

"""SEC's quarterly Insider Transactions Data Sets (Form 345) -> rows for the loader. Pure.

One quarter is one zip (``{YYYY}q{Q}_form345.zip``) of eight tab-separated UTF-8 tables with
a header row (readme "Form 345 Data Sets", sections 3-5). :class:`QuarterFile` reads one
quarter's zip from bytes or a seekable file object, never unpacked to disk: each member is
streamed line by line, and only the lines of one slice of the quarter's filings are held at
a time (``filings_per_pass``; a quarter larger than that is read in several passes over the
zip). It yields, per filing, the same ``FilingRows`` that ``ingest.rows`` builds from a
parsed filing, wrapped in a ``LoadItem`` for ``ingest.load.Loader``, with
``source_kind = 'dataset'``. Where each column goes is ``ingest.dataset_catalog``.

Values:

- dates are ``DD-MON-YYYY`` (``12-SEP-2024``); numbers are plain decimals rounded by SEC to
  2 places (``26.8``, ``15285.56``); booleans are as filed (``0``/``1``/``true``/``false``/
  empty); footnote lists are ``F1, F2`` (any order); empty means no value;
- DATE and NUMBER are typed columns of SEC's database (readme section 5): a cell of one that
  does not read as a date or number means the file is not in the layout we know, and the
  quarter is refused (:class:`ValueFormatError`) rather than loaded with holes. The other
  columns are text in SEC's database: a value there that does not fit our column (a flag
  that is not 0/1/true/false, a CIK that is not digits, an unknown relationship word) is kept
  verbatim in ``unmapped_values``, as the XML parser does; so is every value of a column we
  have no column for (``FILE_NUMBER``, the metadata's ``CONTACT_*``);
- an unknown column refuses the quarter (:class:`ColumnError`): it may be a known column
  renamed, whose values would otherwise all land in ``unmapped_values`` while its own
  column stays empty; mapping it is one line in ``ingest.dataset_catalog``.

Sequences: the data sets carry no sequence numbers. A filing's rows of each table are
numbered 1, 2, ... in the order of their surrogate keys (``*_SK``), which is the XML's
document order: in the 2024 Q3 files a filing's chained entries (an option exercised on
29, 30 and 31 July, each row's "owned following" the next row's starting point) have
increasing keys, while the files list the rows in no particular order. Owners and
signatures have no surrogate key: they are numbered in file order, and the comparison with
a filing (``ingest.dataset_compare``) matches them by owner CIK and signature name instead.

Files carry no quoting (no value in the 2024 Q3 sample holds a quote, tab or line break).
How SEC would write a value with a line break is not documented: a physical line that does
not start with an accession number and a tab continues the previous row's last value, so a
raw line break survives.

``raw_sha256`` of a data-set filing is the SHA-256 of its data-set lines (table by table,
in file order) and ``MAPPING_VERSION``: the same quarter loaded again is ``unchanged``.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import BinaryIO

from . import discover
from .dataset_catalog import (
    DATASET_TABLES,
    FOOTNOTES,
    OWNER_SIGNATURE,
    RELATIONSHIP_FLAGS,
    REPORTINGOWNER,
    SUBMISSION,
    DatasetTable,
    Role,
    SourceColumn,
)
from .ownership_xml import _CP1252_BYTES, parse_bool, parse_cik
from .records import ENTRY_TABLES, FILING_DOCUMENT_COLUMNS, OWNER_COLUMNS, Kind
from .rows import (
    FOOTNOTE_REFS_TABLE,
    FOOTNOTES_TABLE,
    OWNERS_TABLE,
    SIGNATURES_TABLE,
    UNMAPPED_TABLE,
    FilingRows,
    add_line_footnotes,
    filing_row,
    issuer_row,
    person_row,
)
from .worker import LoadItem

SOURCE_KIND = "dataset"
# Bump when the rows built from the same data-set lines change: stored data-set filings are
# then replaced on the next load of their quarter instead of being kept as unchanged.
MAPPING_VERSION = 1

DATASETS_URL_PATH = "/files/structureddata/data/insider-transactions-data-sets/"
FIRST_QUARTER = "2006q1"  # the data sets start with January 2006 (readme section 2)
_QUARTER_RE = re.compile(r"^(\d{4})[qQ]([1-4])$", re.ASCII)

DEFAULT_FILINGS_PER_PASS = 30_000  # a quarter of up to 60,000 filings in two passes
DEFAULT_BATCH_FILINGS = 2_000

NO_COLUMN = "no column for this data-set value"
_UNKNOWN_RELATIONSHIP = (
    "not a relationship the data sets document (Director, Officer, TenPercentOwner, Other)"
)


# ---------------------------------------------------------------------------
# Quarters
# ---------------------------------------------------------------------------


def normalize_quarter(text: str) -> str:
    """``2024Q3``/``2024q3`` -> ``2024q3``; ValueError for anything else."""
    match = _QUARTER_RE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a quarter (expected e.g. 2024q3)")
    return f"{match.group(1)}q{match.group(2)}"


def dataset_file_name(quarter: str) -> str:
    return f"{normalize_quarter(quarter)}_form345.zip"


def dataset_path(quarter: str) -> str:
    """URL path of a quarter's zip on www.sec.gov."""
    return DATASETS_URL_PATH + dataset_file_name(quarter)


def _year_quarter(quarter: str) -> tuple[int, int]:
    year, q = normalize_quarter(quarter).split("q")
    return int(year), int(q)


def quarter_bounds(quarter: str) -> tuple[date, date]:
    """The first and last day of a quarter (``2024q3``)."""
    return discover.quarter_bounds(*_year_quarter(quarter))


def quarter_name(day: date) -> str:
    """The data-set quarter a day falls in: ``2024q3``."""
    return f"{day.year}q{discover.quarter_of(day)}"


def quarters_between(first: str, last: str) -> list[str]:
    """Every quarter from ``first`` to ``last``, both included, oldest first."""
    return [f"{year}q{q}" for year, q in discover.quarters_between(
        quarter_bounds(first)[0], quarter_bounds(last)[1])]


# ---------------------------------------------------------------------------
# Errors: one per quarter, nothing of the quarter stored
# ---------------------------------------------------------------------------


class DatasetError(Exception):
    """A quarter that cannot be loaded as a whole. ``str()`` starts with the quarter."""

    def __init__(self, quarter: str, message: str) -> None:
        super().__init__(f"{quarter}: {message}")
        self.quarter = quarter
        self.message = message

    def __reduce__(self) -> tuple:
        # Raised in the reader process (ingest.dataset_load), raised again in the loader's.
        return type(self), (self.quarter, self.message)


class ArchiveError(DatasetError):
    """Not a readable zip: truncated, damaged, or not a zip at all."""


class MissingTableError(DatasetError):
    """One of the eight tables is not in the zip."""


class ColumnError(DatasetError):
    """A table's header has a column the mapping does not know, lacks one, or repeats one."""


class RowError(DatasetError):
    """A row that does not have the header's number of fields."""


class ValueFormatError(DatasetError):
    """A DATE or NUMBER cell (or a surrogate key) that does not read as one."""


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

_MONTHS = {name: n for n, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}


def parse_dataset_date(text: str) -> date:
    """``12-SEP-2024`` -> date(2024, 9, 12)."""
    if len(text) == 11 and text[2] == "-" and text[6] == "-" and text.isascii():
        month = _MONTHS.get(text[3:6].upper())
        day, year = text[:2], text[7:]
        if month and day.isdigit() and year.isdigit():
            try:
                return date(int(year), month, int(day))
            except ValueError as exc:
                raise ValueError(f"impossible date: {exc}") from exc
    raise ValueError("not a DD-MON-YYYY date")


def parse_dataset_number(text: str) -> Decimal:
    """A plain decimal (``-12``, ``26.8``, ``.5``): ASCII digits, at most one dot, no exponent."""
    body = text[1:] if text[:1] == "-" else text
    if body.isascii() and body.replace(".", "", 1).isdigit():
        return Decimal(text)
    raise ValueError("not a number")


class _Memo(dict[str, object]):
    """text -> converted value, filled on first use; emptied when full (bounded memory)."""

    LIMIT = 1 << 16

    def __init__(self, convert: Callable[[str], object]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, text: str) -> object:
        value = self.convert(text)
        if len(self) >= self.LIMIT:
            self.clear()
        self[text] = value
        return value


def _text(value: str) -> str | None:
    """Stripped; blanks only is no value, as the XML parser reads a leaf."""
    return value.strip() or None


_CONVERTERS: dict[Kind, Callable[[str], object]] = {
    Kind.TEXT: _text,
    Kind.DATE: _Memo(parse_dataset_date).__getitem__,
    Kind.NUMERIC: _Memo(parse_dataset_number).__getitem__,
    Kind.BOOL: _Memo(parse_bool).__getitem__,
    Kind.CIK: _Memo(parse_cik).__getitem__,
}
# Typed in SEC's database: a bad cell refuses the quarter (see the module docstring).
_STRICT_KINDS = frozenset({Kind.DATE, Kind.NUMERIC})


def _compile_converter(
    indexes: Sequence[int], kinds: Sequence[Kind], absent: int
) -> Callable[[list[str]], list]:
    """A function from a row's fields to our columns' values, written out for this header.

    The conversion is the per-row hot loop (a quarter has about 400,000 rows): straight-line
    code, one local per field and no loop, runs it 3-4 times faster than a loop over
    (index, converter) pairs. Each value converts as ``_CONVERTERS`` says (text inline, as
    ``_text``); an empty field is None. A value that does not convert raises ValueError (the
    caller then redoes the row slowly to say which value and why).
    """
    lines = ["def convert(fields):"]
    values = []
    converters: dict[str, Callable[[str], object]] = {}
    for n, (index, kind) in enumerate(zip(indexes, kinds, strict=True)):
        if index == absent:
            values.append("None")
            continue
        lines.append(f"    v{n} = fields[{index}]")
        if kind is Kind.TEXT:
            values.append(f"(v{n}.strip() or None) if v{n} else None")
        else:
            converters[f"c{n}"] = _CONVERTERS[kind]
            values.append(f"c{n}(v{n}) if v{n} else None")
    lines.append(f"    return [{', '.join(values)}]")
    namespace: dict[str, object] = dict(converters)
    exec("\n".join(lines), namespace)  # source built above from column positions only
    return namespace["convert"]  # type: ignore[return-value]


def footnote_ids(text: str) -> list[str]:
    """``"F3, F2"`` -> ``["F3", "F2"]``."""
    return [part for part in (p.strip() for p in text.split(",")) if part]


# A quarter has a few hundred distinct footnote lists ("F1", "F1, F2", ...) in ~150,000 cells.
_FOOTNOTE_LISTS = _Memo(lambda text: tuple(footnote_ids(text))).__getitem__


# ---------------------------------------------------------------------------
# One table of one quarter's file
# ---------------------------------------------------------------------------


class _TablePlan:
    """How to read one table's rows, compiled from the header of this quarter's file.

    ``convert`` turns a row's fields into the values of ``columns`` (our columns, in the
    order of the catalog) with code generated for this header (``_compile_converter``).
    """

    def __init__(self, quarter: str, table: DatasetTable, header: list[str]) -> None:
        self.quarter = quarter
        self.table = table
        self.width = len(header)
        positions = _header_positions(quarter, table, header)
        by_role: dict[Role, list[tuple[SourceColumn, int]]] = defaultdict(list)
        for source, index in positions.items():
            by_role[source.role].append((source, index))
        kinds = table.kinds
        self.columns: tuple[str, ...] = tuple(kinds)
        self.position = {column: i for i, column in enumerate(self.columns)}
        value_at = {s.column: i for s, i in by_role[Role.VALUE]}
        absent = self.width  # the '' appended to every row's fields
        self.sources: tuple[str | None, ...] = tuple(
            header[value_at[c]] if c in value_at else None for c in self.columns
        )
        # One index more than there are columns, so that the getter always returns a tuple
        # (itemgetter of one index returns the item); zips over it stop at the columns.
        self._indexes = tuple(value_at.get(c, absent) for c in self.columns)
        self._getter = itemgetter(*self._indexes, absent)
        self.kinds: tuple[Kind, ...] = tuple(kinds.values())
        self._converters = tuple(_CONVERTERS[k] for k in self.kinds)
        self._convert_fast = _compile_converter(self._indexes, self.kinds, absent)
        footnotes = [(i, s.column) for s, i in by_role[Role.FOOTNOTES] if s.column]
        self.footnote_columns: tuple[str, ...] = tuple(c for _, c in footnotes)
        self._footnote_getter = itemgetter(*(i for i, _ in footnotes), absent)
        # A row's footnote cells -> its (footnote id, column) references: rows repeat a few
        # patterns (most cells empty), so each pattern is read once.
        self.footnote_references = _Memo(self._footnote_references).__getitem__
        self.no_column: tuple[tuple[int, str], ...] = tuple(
            (i, header[i]) for _, i in by_role[Role.NO_COLUMN]
        )
        keys = by_role[Role.SURROGATE_KEY]
        self.surrogate_key: int | None = keys[0][1] if keys else None
        relationship = by_role[Role.RELATIONSHIP]
        self.relationship: int | None = relationship[0][1] if relationship else None

    def fields(self, line: str, accession: str) -> list[str]:
        fields = line.split("\t")
        if len(fields) != self.width:
            raise RowError(
                self.quarter,
                f"{self.table.file_name}: a row of {accession} has {len(fields)} fields, "
                f"the header {self.width}",
            )
        fields.append("")
        return fields

    def _footnote_references(self, listed: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        return tuple((fid, column)
                     for column, ids in zip(self.footnote_columns, listed, strict=False) if ids
                     for fid in _FOOTNOTE_LISTS(ids))

    def where(self, seq: int | None) -> str:
        """A row's place, for values kept in unmapped_values: ``NONDERIV_TRANS[2]``."""
        return self.table.name if seq is None else f"{self.table.name}[{seq}]"

    def convert(self, fields: list[str], seq: int | None, unmapped: list[tuple[str, str, str]]) -> list:
        """Our columns' values from a row's fields (``fields`` from :meth:`fields`)."""
        try:
            return self._convert_fast(fields)
        except ValueError:
            return self._convert_slowly(self._getter(fields), self.where(seq), unmapped)

    def footnote_lists(self, fields: list[str]) -> tuple[str, ...]:
        """The row's footnote lists, one per ``footnote_columns`` (and a trailing '')."""
        return self._footnote_getter(fields)

    def _convert_slowly(
        self, got: tuple[str, ...], where: str, unmapped: list[tuple[str, str, str]]
    ) -> list:
        out: list = []
        columns = zip(self._converters, self.kinds, self.sources, got, strict=False)
        for conv, kind, source, value in columns:
            if not value:
                out.append(None)
                continue
            try:
                out.append(conv(value))
            except ValueError as exc:
                if kind in _STRICT_KINDS:
                    raise ValueFormatError(
                        self.quarter, f"{self.table.file_name}: {source} of {where} is "
                        f"{value!r}: {exc}",
                    ) from None
                unmapped.append((f"{where}/{source}", value, str(exc)))
                out.append(None)
        return out

    def extras(self, fields: list[str], seq: int | None,
               unmapped: list[tuple[str, str, str]]) -> None:
        """Values of columns we have no column for, kept verbatim."""
        for index, name in self.no_column:
            value = fields[index]
            if value.strip():
                unmapped.append((f"{self.where(seq)}/{name}", value, NO_COLUMN))

    def sort_key(self, fields: list[str], accession: str) -> int:
        assert self.surrogate_key is not None
        text = fields[self.surrogate_key]
        if not (text.isascii() and text.isdigit()):
            raise ValueFormatError(
                self.quarter,
                f"{self.table.file_name}: surrogate key of a row of {accession} is {text!r}",
            )
        return int(text)


def _header_positions(
    quarter: str, table: DatasetTable, header: list[str]
) -> dict[SourceColumn, int]:
    by_name = {name: source for source in table.columns for name in source.names}
    positions: dict[SourceColumn, int] = {}
    for index, name in enumerate(header):
        source = by_name.get(name)
        if source is None:
            raise ColumnError(
                quarter,
                f"{table.file_name} has column {name!r}, which ingest/dataset_catalog.py does "
                "not map; the quarter is refused rather than loaded without it",
            )
        if source in positions:
            raise ColumnError(quarter, f"{table.file_name} has column {source.name} twice")
        positions[source] = index
    missing = [s.name for s in table.columns if not s.optional and s not in positions]
    if missing:
        raise ColumnError(quarter, f"{table.file_name} lacks column(s) {', '.join(missing)}")
    return positions


# ---------------------------------------------------------------------------
# A quarter's zip
# ---------------------------------------------------------------------------

_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError)
_CHILD_TABLES = tuple(t for t in DATASET_TABLES if t is not SUBMISSION)
_CHILD_INDEX = {t.name: i for i, t in enumerate(_CHILD_TABLES)}
_OWNERS = _CHILD_INDEX[REPORTINGOWNER.name]
_FOOTNOTES = _CHILD_INDEX[FOOTNOTES.name]
_SIGNATURES = _CHILD_INDEX[OWNER_SIGNATURE.name]
_ENTRY_PARTS = tuple((i, t) for i, t in enumerate(_CHILD_TABLES) if t.target in ENTRY_TABLES)
# Positions in the values of a SUBMISSION row (catalog order of the filings columns the data
# sets fill; the filed date is taken out first) and of an owner row.
_FILING_KINDS = list(SUBMISSION.kinds)
_FILED_DATE = _FILING_KINDS.index("filed_date")
_DOCUMENT_COLUMNS = [c for c in _FILING_KINDS if c != "filed_date"]
if _DOCUMENT_COLUMNS != list(FILING_DOCUMENT_COLUMNS):
    raise RuntimeError("the data sets' filings columns are not FILING_DOCUMENT_COLUMNS")
_DOCUMENT_TYPE = _DOCUMENT_COLUMNS.index("document_type")
_DOCUMENT_FIELDS = tuple(_DOCUMENT_COLUMNS.index(c) for c in (
    "issuer_cik", "issuer_name", "issuer_trading_symbol", "period_of_report"))
_OWNER_CIK = 2 + list(OWNER_COLUMNS).index("rpt_owner_cik")  # after accession, sequence
if list(OWNER_COLUMNS).index("rpt_owner_name") != _OWNER_CIK - 1:
    raise RuntimeError("rpt_owner_name must follow rpt_owner_cik in OWNER_COLUMNS")


class QuarterFile:
    """One quarter's zip, checked on opening (a readable zip, the eight tables, known
    columns); :meth:`batches` reads it. Every problem is a :class:`DatasetError`.

    ``rows_read`` (per table), ``orphan_rows`` (rows whose accession SUBMISSION does not
    list: no filing to attach them to, so they are counted, not loaded) and ``filings``
    are filled in as :meth:`batches` runs.
    """

    def __init__(
        self,
        source: bytes | BinaryIO,
        quarter: str,
        *,
        filings_per_pass: int = DEFAULT_FILINGS_PER_PASS,
    ) -> None:
        self.quarter = normalize_quarter(quarter)
        self.source_name = dataset_file_name(self.quarter)
        self.filings_per_pass = max(1, filings_per_pass)
        self.rows_read: Counter[str] = Counter()
        self.orphan_rows: Counter[str] = Counter()
        self.filings = 0
        stream = io.BytesIO(source) if isinstance(source, bytes | bytearray | memoryview) else source
        with self._reading("the zip's directory"):
            self._zip = zipfile.ZipFile(stream)
        members = _members_by_table(self._zip)
        missing = [t.file_name for t in DATASET_TABLES if t.name not in members]
        if missing:
            raise MissingTableError(self.quarter, f"the zip has no {', '.join(missing)}")
        self._members = members
        self._headers = {t.name: self._header(t) for t in DATASET_TABLES}
        self._plans = {t.name: _TablePlan(self.quarter, t, self._headers[t.name])
                       for t in DATASET_TABLES}

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> QuarterFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def rows(self) -> int:
        return sum(self.rows_read.values())

    def header(self, table: DatasetTable) -> list[str]:
        """The column names of the table's file, in file order."""
        return list(self._headers[table.name])

    def member_bytes(self, table: DatasetTable) -> bytes:
        """The table's file as it is in the zip, decompressed (header row included)."""
        with self._reading(table.file_name):
            return self._zip.read(self._members[table.name])

    @property
    def columns(self) -> list[str]:
        """``TABLE.COLUMN`` of every column this quarter's files have, in file order."""
        return [f"{table}.{column}" for table, header in self._headers.items() for column in header]

    # -- reading ----------------------------------------------------------

    def batches(self, size: int = DEFAULT_BATCH_FILINGS) -> Iterator[list[LoadItem]]:
        """Every filing of the quarter, in SUBMISSION's order, ``size`` at a time."""
        submissions = self._submission_lines()
        accessions = list(submissions)
        self.filings = len(accessions)
        known = submissions.keys()
        batch: list[LoadItem] = []
        for start in range(0, len(accessions), self.filings_per_pass):
            chunk = accessions[start : start + self.filings_per_pass]
            lines = self._child_lines(set(chunk), known, first_pass=start == 0)
            for accession in chunk:
                parts = [by_acc.pop(accession, ()) for by_acc in lines]
                batch.append(self._item(accession, submissions[accession], parts))
                if len(batch) >= size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _submission_lines(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        count = 0
        for line in self._lines(SUBMISSION):
            count += 1
            out.setdefault(line[:20], []).append(line)
        self.rows_read[SUBMISSION.name] = count
        return out

    def _child_lines(
        self, wanted: set[str], known: Container[str], first_pass: bool
    ) -> list[defaultdict[str, list[str]]]:
        """Per child table, the lines of the ``wanted`` filings, by accession."""
        out = []
        for table in _CHILD_TABLES:
            by_acc: defaultdict[str, list[str]] = defaultdict(list)
            count = orphans = 0
            for line in self._lines(table):
                accession = line[:20]
                if accession in wanted:
                    by_acc[accession].append(line)
                elif first_pass and accession not in known:
                    orphans += 1
                count += 1
            if first_pass:
                self.rows_read[table.name] = count
                if orphans:
                    self.orphan_rows[table.name] = orphans
            out.append(by_acc)
        return out

    def _header(self, table: DatasetTable) -> list[str]:
        with self._reading(table.file_name), self._open_text(table) as text:
            header = text.readline().rstrip("\r\n")
        if not header:
            raise ColumnError(self.quarter, f"{table.file_name} is empty (no header row)")
        return header.split("\t")

    def _lines(self, table: DatasetTable) -> Iterator[str]:
        """The table's rows as text, one per data-set row (a line break in a value joined back)."""
        with self._reading(table.file_name), self._open_text(table) as text:
            text.readline()  # the header, read by _header
            pending: str | None = None
            blank = 0  # empty lines seen since: kept only if more of the value follows
            for raw in text:
                line = raw.rstrip("\r\n")
                if not line:
                    blank += 1
                elif starts_a_row(line):
                    if pending is not None:
                        yield pending
                    pending, blank = line, 0
                elif pending is not None:
                    pending += "\n" * (blank + 1) + line
                    blank = 0
                else:
                    raise RowError(self.quarter, f"{table.file_name}: a row does not start "
                                   f"with an accession number: {line[:40]!r}")
            if pending is not None:
                yield pending

    @contextmanager
    def _open_text(self, table: DatasetTable) -> Iterator[io.TextIOWrapper]:
        with self._zip.open(self._members[table.name]) as raw:
            # utf-8-sig: a byte-order mark is not part of the first column's name. Bytes
            # that are not UTF-8 are read as Windows-1252, as the XML parser reads them.
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors=_CP1252_BYTES, newline="\n")
            text._CHUNK_SIZE = 1 << 16  # fewer, larger reads of the decompressed member
            yield text

    @contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        try:
            yield
        except _ZIP_ERRORS as exc:
            raise ArchiveError(
                self.quarter, f"{self.source_name} is not a readable zip (truncated or "
                f"damaged) at {what}: {exc}"
            ) from exc

    # -- one filing ---------------------------------------------------------

    def _item(self, accession: str, submission: list[str], parts: list[Sequence[str]]) -> LoadItem:
        unmapped: list[tuple[str, str, str]] = []
        children: dict[str, list[tuple]] = {}
        plans = self._plans
        document, filed = self._document(accession, submission, unmapped)
        owners = self._owners(accession, parts[_OWNERS], unmapped)
        if owners:
            children[OWNERS_TABLE] = owners
        refs: list[tuple] = []
        for index, table in _ENTRY_PARTS:
            lines = parts[index]
            if lines:
                children[table.target] = self._entries(accession, lines, plans[table.name], refs,
                                                       unmapped)
        notes = self._footnotes(accession, parts[_FOOTNOTES], unmapped)
        if notes:
            children[FOOTNOTES_TABLE] = notes
        if refs:
            children[FOOTNOTE_REFS_TABLE] = refs
        add_line_footnotes(children)
        signatures = self._signatures(accession, parts[_SIGNATURES], unmapped)
        if signatures:
            children[SIGNATURES_TABLE] = signatures
        if unmapped:
            children[UNMAPPED_TABLE] = [
                (accession, seq, path, value, reason)
                for seq, (path, value, reason) in enumerate(unmapped, 1)
            ]
        text = _canonical_text(submission, parts)
        return LoadItem(
            rows=self._filing_rows(accession, document, filed, owners, children, text),
            source_name=self.source_name,
            raw_sha256=hashlib.sha256(text.encode()).hexdigest(),
            raw_size=0,
            raw_gzip=None,
        )

    def _filing_rows(
        self, accession: str, document: list, filed: date | None, owners: list[tuple],
        children: dict[str, list[tuple]], text: str,
    ) -> FilingRows:
        """The filing's ``filings`` row and issuer/person candidates, built as ``ingest.rows``
        builds a parsed filing's (its header's filers: the issuer and the owners)."""
        issuer_cik, issuer_name, symbol, period = (document[i] for i in _DOCUMENT_FIELDS)
        owner_ciks = [row[_OWNER_CIK] for row in owners if row[_OWNER_CIK] is not None]
        filers = {*owner_ciks, issuer_cik} if issuer_cik is not None else set(owner_ciks)
        issuers = [] if issuer_cik is None else [
            issuer_row(issuer_cik, issuer_name, symbol, accession, filed, period)]
        persons = [person_row(row[_OWNER_CIK], row[_OWNER_CIK + 1], accession, filed, period)
                   for row in owners if row[_OWNER_CIK] is not None]
        return FilingRows(
            accession_number=accession,
            source_kind=SOURCE_KIND,
            parse_error=None,
            filing=filing_row(accession, document[_DOCUMENT_TYPE], document, filed_date=filed,
                              accepted_at=None, header_period=None, filer_ciks=sorted(filers),
                              parsed=True, parse_error=None, source_kind=SOURCE_KIND),
            children=children,
            issuers=issuers,
            persons=persons,
            nul_problem=(
                "NUL character in the data set's rows of this filing (PostgreSQL text cannot "
                "store it)" if "\x00" in text else None
            ),
        )

    def _document(
        self, accession: str, lines: list[str], unmapped: list[tuple[str, str, str]]
    ) -> tuple[list, date | None]:
        """The FILING_DOCUMENT_COLUMNS values (catalog order) and the filed date."""
        plan = self._plans[SUBMISSION.name]
        fields = plan.fields(lines[0], accession)
        values = plan.convert(fields, None, unmapped)
        if plan.no_column:
            plan.extras(fields, None, unmapped)
        for extra in lines[1:]:
            unmapped.append((SUBMISSION.name, extra, "another SUBMISSION row of this accession; "
                             "the first one is loaded"))
        filed = values.pop(_FILED_DATE)
        return values, filed

    def _owners(
        self, accession: str, lines: Sequence[str], unmapped: list[tuple[str, str, str]]
    ) -> list[tuple]:
        plan = self._plans[REPORTINGOWNER.name]
        assert plan.relationship is not None
        rows = []
        for seq, line in enumerate(lines, 1):
            fields = plan.fields(line, accession)
            values = plan.convert(fields, seq, unmapped)
            _set_relationship(fields[plan.relationship], plan, values, seq, unmapped)
            plan.extras(fields, seq, unmapped)
            rows.append((accession, seq, *values))
        return rows

    def _entries(
        self, accession: str, lines: Sequence[str], plan: _TablePlan, refs: list[tuple],
        unmapped: list[tuple[str, str, str]],
    ) -> list[tuple]:
        """One entry table's rows, numbered in surrogate-key order."""
        rows_fields = [plan.fields(line, accession) for line in lines]
        keys = [plan.sort_key(fields, accession) for fields in rows_fields]
        if len(rows_fields) > 1:
            order = sorted(range(len(keys)), key=keys.__getitem__)  # stable: file order on ties
            rows_fields = [rows_fields[i] for i in order]
        target = plan.table.target
        references = plan.footnote_references
        rows = []
        for seq, fields in enumerate(rows_fields, 1):
            rows.append((accession, seq, *plan.convert(fields, seq, unmapped)))
            for fid, column in references(plan.footnote_lists(fields)):
                refs.append((accession, fid, target, seq, column))
            if plan.no_column:
                plan.extras(fields, seq, unmapped)
        return rows

    def _footnotes(
        self, accession: str, lines: Sequence[str], unmapped: list[tuple[str, str, str]]
    ) -> list[tuple]:
        plan = self._plans[FOOTNOTES.name]
        rows = []
        seen: set[str] = set()
        for line in lines:
            footnote_id, text = plan.convert(plan.fields(line, accession), None, unmapped)
            if footnote_id is None or footnote_id in seen:
                why = "footnote without an id" if footnote_id is None else \
                    "duplicate footnote id; the first one is kept in footnotes"
                unmapped.append((f"{FOOTNOTES.name}[@FOOTNOTE_ID='{footnote_id or ''}']",
                                 text or "", why))
                continue
            seen.add(footnote_id)
            rows.append((accession, footnote_id, text))
        return rows

    def _signatures(
        self, accession: str, lines: Sequence[str], unmapped: list[tuple[str, str, str]]
    ) -> list[tuple]:
        plan = self._plans[OWNER_SIGNATURE.name]
        return [
            (accession, seq, *plan.convert(plan.fields(line, accession), seq, unmapped))
            for seq, line in enumerate(lines, 1)
        ]


def starts_a_row(line: str) -> bool:
    """A line that begins a data-set row (an accession number and a tab): any other line
    continues the row before it (QuarterFile._lines)."""
    return len(line) > 20 and line[20] == "\t" and line[10] == "-"


def _members_by_table(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Table name -> its member, matched by file name whatever the folder or case."""
    wanted = {t.file_name.upper(): t.name for t in DATASET_TABLES}
    out: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = wanted.get(info.filename.rsplit("/", 1)[-1].upper())
        if name is not None and not info.is_dir():
            out.setdefault(name, info)
    return out


def _read_relationship(text: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """``Director,Officer`` -> the flags it lists, and the words that are not flags."""
    listed, unknown = set(), []
    for word in (w.strip() for w in text.split(",")):
        if not word:
            continue
        flag = RELATIONSHIP_FLAGS.get(word.lower().replace(" ", ""))
        if flag is None:
            unknown.append(word)
        else:
            listed.add(flag)
    return frozenset(listed), tuple(unknown)


# A handful of distinct lists in a quarter's ~70,000 owner rows.
_RELATIONSHIPS = _Memo(_read_relationship).__getitem__


def _set_relationship(
    text: str, plan: _TablePlan, values: list, seq: int, unmapped: list[tuple[str, str, str]]
) -> None:
    """``Director,Officer`` -> the four is_* flags: the listed ones true, the others false
    (the list is SEC's reading of all four flags); an empty list says nothing."""
    listed, unknown = _RELATIONSHIPS(text)
    for word in unknown:
        unmapped.append((f"{plan.where(seq)}/RPTOWNER_RELATIONSHIP", word, _UNKNOWN_RELATIONSHIP))
    if listed:  # nothing known listed: the flags stay unknown
        for flag in RELATIONSHIP_FLAGS.values():
            values[plan.position[flag]] = flag in listed


def _canonical_text(submission: list[str], parts: list[Sequence[str]]) -> str:
    """What ``raw_sha256`` hashes: the mapping version and the filing's lines, per table."""
    pieces = [f"edgar-insider dataset mapping {MAPPING_VERSION}", SUBMISSION.name, *submission]
    for table, lines in zip(_CHILD_TABLES, parts, strict=True):
        pieces.append(table.name)
        pieces.extend(lines)
    return "\n".join(pieces)

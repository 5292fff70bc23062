"""When a filing replaces its data-set rows: what differed, kept in ``dataset_differences``.

Called by the loader (``ingest.load``) in the transaction that replaces the rows, before the
data-set rows are deleted. Compared, for the columns the quarter's file carried (its
``dataset_quarters.columns``; all mapped columns when the quarter is not recorded):

- ``filings``: the document columns and the filed date;
- ``filing_owners`` matched by owner CIK (owners have no key in the data sets);
- the four entry tables matched by sequence (surrogate-key order = document order, see
  ``ingest.datasets``);
- ``footnotes`` by footnote id, ``owner_signatures`` by signature name;
- ``footnote_references`` as a multiset of (table, row, column, footnote id); a reference the
  data sets have no ``_FN`` column for (``<transactionAmounts><footnoteId/>``, a reporting
  owner's, a table's) is reported as one the data set lacks: it does lack it.

Equal means: numbers equal up to the data sets' rounding (the data-set value is the filing's
rounded half-up to ``DATASET_DECIMALS`` places, or the same number); owner relationship
flags equal as "is true" (the data set lists the true ones only); everything else exactly.
``unmapped_values`` are not compared (each source keeps its own).

A difference is one row: a value (``column_name`` set, ``dataset_value`` / ``filing_value``
as text, NULL where a side has none), or a whole row on one side only (``column_name``
NULL, the row's values as ``col=value; ...`` on its side).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
from psycopg import sql

from models import schema

from .dataset_catalog import DATASET_DECIMALS, DATASET_TABLES, RELATIONSHIP_FLAGS, Role
from .records import ENTRY_TABLES
from .rows import FOOTNOTE_REFS_TABLE, FilingRows

_QUANTUM = Decimal(1).scaleb(-DATASET_DECIMALS)
_FLAGS = frozenset(RELATIONSHIP_FLAGS.values())

# filings columns of FilingRows.filing, in its order (the loader appends the rest).
_FILING_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in schema.filings.columns
)[: [c.name for c in schema.filings.columns].index("source_kind") + 1]
_CHILD_COLUMNS: dict[str, tuple[str, ...]] = {
    t.name: tuple(c.name for c in t.columns if c.name not in schema.DERIVED_COLUMNS)
    for t in (schema.filing_owners, *schema.entry_tables.values(), schema.footnotes,
              schema.footnote_references, schema.owner_signatures)
}
_ROW_KEY = {  # how rows of a table are matched between the two sides
    "filing_owners": "rpt_owner_cik",
    "footnotes": "footnote_id",
    "owner_signatures": "signature_name",
    **{table: "sequence" for table in ENTRY_TABLES},
}


@dataclass(frozen=True, slots=True)
class Difference:
    accession_number: str
    table_name: str
    row_key: str | None
    column_name: str | None
    dataset_value: str | None
    filing_value: str | None


def mapped_columns(header_columns: Iterable[str] | None = None) -> dict[str, frozenset[str]]:
    """Our table -> the columns the data sets fill, from a quarter's ``TABLE.COLUMN`` list
    (every column of the mapping when None). Relationship lists fill the four flags."""
    present = None if header_columns is None else set(header_columns)
    out: dict[str, set[str]] = defaultdict(set)
    for table in DATASET_TABLES:
        for source in table.columns:
            if present is not None and not any(f"{table.name}.{n}" in present
                                               for n in source.names):
                continue
            if source.role is Role.VALUE and source.column:
                out[table.target].add(source.column)
            elif source.role is Role.RELATIONSHIP:
                out[table.target].update(_FLAGS)
    return {table: frozenset(columns) for table, columns in out.items()}


_ALL_MAPPED = mapped_columns()


def record_differences(cur: psycopg.Cursor, filings: Sequence[FilingRows]) -> int:
    """Compare the stored data-set rows of ``filings`` with these new rows; store the
    differences. Returns how many were stored."""
    if not filings:
        return 0
    accessions = [f.accession_number for f in filings]
    stored = _stored_rows(cur, accessions)
    carried = _carried_columns(cur, accessions)
    found: list[Difference] = []
    for new in filings:
        acc = new.accession_number
        old = {table: rows.get(acc, []) for table, rows in stored.items()}
        found.extend(compare(acc, old, _as_tables(new), carried.get(acc, _ALL_MAPPED)))
    if found:
        with cur.copy(
            "COPY dataset_differences (accession_number, table_name, row_key, column_name, "
            "dataset_value, filing_value) FROM STDIN"
        ) as copy:
            for difference in found:
                copy.write_row(
                    (difference.accession_number, difference.table_name, difference.row_key,
                     difference.column_name, difference.dataset_value, difference.filing_value)
                )
    return len(found)


def _as_tables(rows: FilingRows) -> dict[str, list[tuple]]:
    return {"filings": [rows.filing], **rows.children}


def _stored_rows(cur: psycopg.Cursor, accessions: list[str]) -> dict[str, dict[str, list[tuple]]]:
    out: dict[str, dict[str, list[tuple]]] = {}
    for table, columns in (("filings", _FILING_COLUMNS), *_CHILD_COLUMNS.items()):
        query = sql.SQL("SELECT {} FROM {} WHERE accession_number = ANY(%s)").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
        )
        by_acc: dict[str, list[tuple]] = defaultdict(list)
        for row in cur.execute(query, (accessions,)).fetchall():
            by_acc[row[0]].append(tuple(row))
        out[table] = by_acc
    return out


def _carried_columns(
    cur: psycopg.Cursor, accessions: list[str]
) -> dict[str, dict[str, frozenset[str]]]:
    rows = cur.execute(
        "SELECT f.accession_number, q.columns FROM filings f "
        "JOIN dataset_quarters q ON q.file_name = f.source_name "
        "WHERE f.accession_number = ANY(%s)",
        (accessions,),
    ).fetchall()
    layouts: dict[tuple[str, ...], dict[str, frozenset[str]]] = {}
    out = {}
    for accession, columns in rows:
        key = tuple(columns)
        if key not in layouts:
            layouts[key] = mapped_columns(columns)
        out[accession] = layouts[key]
    return out


# ---------------------------------------------------------------------------
# The comparison (pure)
# ---------------------------------------------------------------------------


def compare(
    accession: str,
    dataset: dict[str, list[tuple]],
    filing: dict[str, list[tuple]],
    carried: dict[str, frozenset[str]],
) -> list[Difference]:
    """Differences between a filing's data-set rows and its own rows, per table:
    ``dataset``/``filing`` map a table name to its rows (tuples in ``models.schema`` column
    order; ``filings`` as ``FilingRows.filing``)."""
    out: list[Difference] = []
    for table, columns in (("filings", _FILING_COLUMNS), *_CHILD_COLUMNS.items()):
        if table == FOOTNOTE_REFS_TABLE:
            out.extend(_compare_refs(accession, dataset.get(table, []), filing.get(table, [])))
            continue
        compared = carried.get(table)
        if not compared:
            continue
        old, new = dataset.get(table, []), filing.get(table, [])
        if table == "filings":
            pairs = [(None, old[0] if old else None, new[0] if new else None)]
        else:
            pairs = _pairs(old, new, columns.index(_ROW_KEY[table]))
        for key, old_row, new_row in pairs:
            out.extend(_compare_rows(accession, table, key, columns, compared, old_row, new_row))
    return out


def _pairs(
    old: list[tuple], new: list[tuple], key_index: int
) -> list[tuple[str | None, tuple | None, tuple | None]]:
    """Rows matched by key (the n-th of a key with the n-th), in key order."""
    by_key: dict[Any, list[list[tuple]]] = defaultdict(lambda: [[], []])
    for side, rows in enumerate((old, new)):
        for row in rows:
            by_key[row[key_index]][side].append(row)
    out = []
    for key in sorted(by_key, key=_sortable):
        olds, news = by_key[key]
        for n in range(max(len(olds), len(news))):
            out.append((None if key is None else str(key),
                        olds[n] if n < len(olds) else None,
                        news[n] if n < len(news) else None))
    return out


def _sortable(key: Any) -> tuple[int, Any]:
    if key is None:
        return (2, "")
    return (0, key) if isinstance(key, int) else (1, str(key))


def _compare_rows(
    accession: str,
    table: str,
    key: str | None,
    columns: tuple[str, ...],
    compared: frozenset[str],
    old: tuple | None,
    new: tuple | None,
) -> list[Difference]:
    if old is None or new is None:
        present = old if old is not None else new
        assert present is not None
        rendered = _render_row(columns, compared, present)
        return [Difference(accession, table, key, None,
                           rendered if old is not None else None,
                           rendered if new is not None else None)]
    out = []
    for index, column in enumerate(columns):
        if column not in compared:
            continue
        if not _equal(column, old[index], new[index]):
            out.append(Difference(accession, table, key, column, _text(old[index]),
                                  _text(new[index])))
    return out


def _equal(column: str, dataset_value: Any, filing_value: Any) -> bool:
    if column in _FLAGS:
        return (dataset_value is True) == (filing_value is True)
    if isinstance(dataset_value, Decimal) and isinstance(filing_value, Decimal):
        return dataset_value == filing_value or dataset_value == filing_value.quantize(
            _QUANTUM, rounding=ROUND_HALF_UP
        )
    return dataset_value == filing_value


def _compare_refs(accession: str, old: list[tuple], new: list[tuple]) -> list[Difference]:
    """footnote_references rows (acc, footnote_id, table, sequence, column) as multisets."""
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for side, rows in enumerate((old, new)):
        for _, footnote_id, table, sequence, column in rows:
            counts[(table, sequence, column, footnote_id)][side] += 1
    out = []
    for (table, sequence, column, footnote_id), (in_dataset, in_filing) in sorted(
        counts.items(), key=lambda item: tuple(map(str, item[0]))
    ):
        if in_dataset == in_filing:
            continue
        row_key = table if sequence is None else f"{table}[{sequence}]"
        difference = Difference(
            accession, FOOTNOTE_REFS_TABLE, row_key, column,
            footnote_id if in_dataset > in_filing else None,
            footnote_id if in_filing > in_dataset else None,
        )
        out.extend([difference] * abs(in_dataset - in_filing))
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _render_row(columns: tuple[str, ...], compared: frozenset[str], row: tuple) -> str:
    return "; ".join(
        f"{column}={_text(value)}"
        for column, value in zip(columns, row, strict=True)
        if column in compared and value is not None
    )

"""Experiment (issue 13): what a data-set quarter costs when PostgreSQL reads it.

Not the loader. The question it answers: if the zip's members were streamed as they are
into staging tables (COPY, text columns) and converted by INSERT ... SELECT into our tables,
what would the backend spend, and would 100,000 rows/s fit on 2 cores? Only the straight
mapping is done (values, sequences by surrogate key, footnote lists, owners' relationship
flags); what the loader also does (unchanged detection, per-filing decisions, unmapped
values, analyst rows) is not, so the figures are a floor for that design.

    python benchmarks/results/2026-12-06-datasets-sql/exp_sqlside.py [--filings 60000]
        [--drop-secondary] [--split]

``--split``: the member tables are staged and converted over two connections at once
(two backends, two transactions), filings first on one of them.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
import zipfile
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from benchmarks.bench_datasets import (  # noqa: E402
    DEFAULT_SERVER,
    _ServerCpu,
    drop_secondary_indexes,
    replicate,
)
from benchmarks.generate_million import create_database, drop_database  # noqa: E402
from ingest import db  # noqa: E402
from ingest.dataset_catalog import (  # noqa: E402
    DATASET_TABLES,
    RELATIONSHIP_FLAGS,
    Role,
)
from ingest.records import Kind  # noqa: E402
from tests import dataset_zip as dz  # noqa: E402

CONTINUED = re.compile(rb"\r?\n(?!\d{10}-\d\d-\d{6}\t|$)")


def convert(kind: Kind, expr: str) -> str:
    if kind is Kind.DATE:
        return f"to_date(nullif({expr}, ''), 'DD-MON-YYYY')"
    if kind is Kind.NUMERIC:
        return f"nullif({expr}, '')::numeric"
    if kind is Kind.CIK:
        return f"nullif({expr}, '')::bigint"
    if kind is Kind.BOOL:
        return (f"CASE lower({expr}) WHEN '1' THEN true WHEN 'true' THEN true "
                f"WHEN '0' THEN false WHEN 'false' THEN false END")
    return f"nullif({expr}, '')"


def statements(header: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per data-set table: the INSERT ... SELECTs from its staging table."""
    out: dict[str, list[str]] = {}
    for table in DATASET_TABLES:
        present = set(header[table.name])
        cols = [c for c in table.columns if c.name in present]
        kinds = table.kinds
        key = next((c.name for c in cols if c.role is Role.SURROGATE_KEY), None)
        targets, values = ["accession_number"], ['s."ACCESSION_NUMBER"']
        if table.target in ("filings",):
            # the loader hashes all of a filing's lines; here the SUBMISSION row only
            targets += ["source_kind", "parsed", "raw_sha256", "parser_version", "ingested_at"]
            values += ["'dataset'", "true", "encode(sha256(convert_to(s::text, 'UTF8')), 'hex')",
                       "0", "now()"]
        elif table.target != "footnotes":
            order = f's."{key}"::bigint' if key else "s.ctid"
            targets.append("sequence")
            values.append(f'row_number() OVER (PARTITION BY s."ACCESSION_NUMBER" ORDER BY {order})')
        for c in cols:
            if c.role is Role.VALUE:
                targets.append(c.column)
                values.append(convert(kinds[c.column], f's."{c.name}"'))
            elif c.role is Role.RELATIONSHIP:
                for word, flag in RELATIONSHIP_FLAGS.items():
                    targets.append(flag)
                    values.append(f"""position('{word}' in lower(s."{c.name}")) > 0""")
        stmts = [f"INSERT INTO {table.target} ({', '.join(targets)}) "
                 f"SELECT {', '.join(values)} FROM stg_{table.name.lower()} s"]
        notes = [c for c in cols if c.role is Role.FOOTNOTES]
        if notes and key:
            arms = " UNION ALL ".join(
                f"SELECT '{c.column}' AS col, s.\"{c.name}\" AS ids" for c in notes)
            stmts.append(
                f"INSERT INTO footnote_references (accession_number, table_name, sequence, "
                f"column_name, footnote_id) "
                f"SELECT q.acc, '{table.target}', q.seq, a.col, f.id "
                f"FROM (SELECT s.*, s.\"ACCESSION_NUMBER\" AS acc, row_number() OVER "
                f"(PARTITION BY s.\"ACCESSION_NUMBER\" ORDER BY s.\"{key}\"::bigint) AS seq "
                f"FROM stg_{table.name.lower()} s) q "
                f"CROSS JOIN LATERAL ({arms.replace('s.', 'q.')}) a "
                f"CROSS JOIN LATERAL unnest(string_to_array(a.ids, ', ')) f(id) "
                f"WHERE a.ids <> ''")
        out[table.name] = stmts
    return out


def stage(conn: psycopg.Connection, zf: zipfile.ZipFile, name: str) -> list[str]:
    with zf.open(f"{name}.tsv") as member:
        first = member.readline()
        columns = first.decode().rstrip("\r\n").split("\t")
        cols = ", ".join(f'"{c}" text' for c in columns)
        conn.execute(f"CREATE TEMP TABLE stg_{name.lower()} ({cols}) ON COMMIT DROP")
        with conn.cursor().copy(
            f"COPY stg_{name.lower()} FROM STDIN (FORMAT csv, DELIMITER E'\\t', "
            f"QUOTE E'\\x01')"
        ) as copy:
            # a line break inside a value (the loader: a line not starting with an
            # accession and a tab continues the last one) becomes \x02 for COPY
            copy.write(CONTINUED.sub(b"\x02", member.read()))
    return columns


def run_part(url: str, data: Path, names: list[str], timings: dict, label: str,
             barrier: threading.Barrier | None = None) -> None:
    with psycopg.connect(db.libpq_conninfo(url)) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET jit = off")
        if barrier:
            barrier.wait()
        cpu = _ServerCpu(conn)
        started, client = time.monotonic(), time.process_time()
        with zipfile.ZipFile(data) as zf:
            headers = {n: stage(conn, zf, n) for n in names}
        staged = time.monotonic() - started
        stage_cpu = cpu.seconds()
        header = {t.name: headers.get(t.name, [c.name for c in t.columns]) for t in DATASET_TABLES}
        per = statements(header)
        rows = 0
        for n in names:
            for statement in per[n]:
                rows += conn.execute(statement).rowcount
        conn.commit()
        timings[label] = dict(
            wall_s=round(time.monotonic() - started, 2), stage_wall_s=round(staged, 2),
            server_cpu_s=cpu.seconds(), stage_server_cpu_s=stage_cpu,
            client_cpu_s=round(time.process_time() - client, 2), rows_written=rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--filings", type=int, default=60_000)
    parser.add_argument("--drop-secondary", action="store_true")
    parser.add_argument("--split", action="store_true")
    parser.add_argument("--zip", type=Path, default=Path("/tmp/q60k.zip"))
    args = parser.parse_args()
    if not args.zip.exists():
        args.zip.write_bytes(dz.build_zip(replicate(args.filings, 400_000 / 60_000)))
    with zipfile.ZipFile(args.zip) as zf:
        source_rows = sum(sum(1 for _ in zf.open(i)) - 1 for i in zf.infolist())
    name, url = create_database(DEFAULT_SERVER)
    try:
        if args.drop_secondary:
            with psycopg.connect(db.libpq_conninfo(url), autocommit=True) as conn:
                drop_secondary_indexes(conn)
        names = [t.name for t in DATASET_TABLES]
        timings: dict = {}
        started = time.monotonic()
        if args.split:
            halves = (["SUBMISSION", "REPORTINGOWNER", "NONDERIV_HOLDING", "DERIV_TRANS",
                       "OWNER_SIGNATURE"], ["NONDERIV_TRANS", "DERIV_HOLDING", "FOOTNOTES"])
            barrier = threading.Barrier(2)
            threads = [threading.Thread(target=run_part, args=(
                url, args.zip, half, timings, f"part{k}", barrier))
                for k, half in enumerate(halves)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            run_part(url, args.zip, names, timings, "one")
        wall = time.monotonic() - started
        print(dict(source_rows=source_rows, wall_s=round(wall, 2),
                   rows_per_s=round(source_rows / wall), **timings))
    finally:
        drop_database(DEFAULT_SERVER, name)


if __name__ == "__main__":
    main()

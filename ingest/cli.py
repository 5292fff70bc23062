"""The ``edgar-insider`` command line (click).

Commands live on the ``cli`` group; other modules add theirs with ``@cli.command()``
(see ``register``). Exit codes: 0 ok, 1 some filings failed (or the database went away
mid-run), 2 usage or configuration error (a ``ConfigError`` anywhere in a command prints
its message and exits 2).
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
import psycopg
import sqlalchemy.exc

from . import db
from .config import ConfigError
from .load import Loader, LoadResult
from .progress import Progress
from .records import PARSER_VERSION, first_line
from .worker import FileFailure, LoadItem, Outcome, read_and_parse, reparse_stored, run_chunk_pickled

log = logging.getLogger(__name__)

INPUT_SUFFIXES = (".txt", ".nc", ".sgml", ".xml")
DEFAULT_BATCH_SIZE = 500
STATUS_HINT = "(see: edgar-insider status)"
EASTERN = ZoneInfo("America/New_York")

T = TypeVar("T")


class ConfigProblem(click.ClickException):
    """A ConfigError surfaced to the user: message on stderr, exit code 2."""

    exit_code = 2


class EdgarGroup(click.Group):
    """Turns ConfigError (and unreachable databases) into exit code 2 for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise ConfigProblem(str(exc)) from exc
        except psycopg.errors.InsufficientPrivilege as exc:
            # DATABASE_URL names a role that may not write (e.g. the analysts' reader).
            raise ConfigProblem(
                f"the database refused a write ({first_line(exc)}): DATABASE_URL must name "
                "the role that owns the edgar-insider tables, not a read-only one"
            ) from exc
        except (psycopg.OperationalError, sqlalchemy.exc.OperationalError) as exc:
            # Server down or unreachable: a setup problem, reported without a traceback
            # (driver messages name host and user, never the password).
            raise ConfigProblem(f"database error: {first_line(exc)}") from exc


@click.group(cls=EdgarGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="edgar-insider", prog_name="edgar-insider")
def cli(verbose: int) -> None:
    """SEC EDGAR Form 3/4/5 insider filings into PostgreSQL.

    The database is DATABASE_URL when set (postgresql://user:password@host:5432/db),
    else an embedded PostgreSQL kept in $EDGAR_INSIDER_HOME/pgdata.
    """
    _setup_logging(logging.WARNING - 10 * min(verbose, 2))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (click's test runner swaps it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _setup_logging(level: int) -> None:
    for name in ("ingest", "alembic"):
        logger = logging.getLogger(name)
        logger.setLevel(level if name == "ingest" else max(level, logging.WARNING))
        if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
            handler = _StderrHandler()
            handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
            logger.propagate = False


def register(command: click.Command) -> click.Command:
    """Add a command defined elsewhere (``cli.add_command`` works as well)."""
    cli.add_command(command)
    return command


# ---------------------------------------------------------------------------
# migrate
# ---------------------------------------------------------------------------


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest revision.

    Safe to run any time: a database already at the newest revision is left alone.
    Every other command refuses to run on an out-of-date DATABASE_URL database until
    this has been run (the embedded database is upgraded automatically).
    """
    target = db.resolve()
    before, after = db.upgrade(target.url)
    where = f"database {target.display}"
    if before == after:
        click.echo(f"{where}: already at revision {after}")
    else:
        click.echo(f"{where}: migrated from {before or '(empty)'} to {after}")


# ---------------------------------------------------------------------------
# ingest
# ---------------------------------------------------------------------------


# Options shared by ingest and reparse (both parse in worker processes and load in batches).
_batch_size_option = click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Filings per database transaction.",
)
_parser_workers_option = click.option(
    "--workers",
    type=click.IntRange(0, 256),
    default=None,
    help="Parser processes [default: CPU count, none for small runs]; 0 parses in the "
    "loading process.",
)


@cli.command()
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
@click.option(
    "--accession",
    help="Accession number to file a single input under (when its name and content lack one).",
)
@_batch_size_option
@_parser_workers_option
def ingest(
    paths: tuple[Path, ...], accession: str | None, batch_size: int, workers: int | None
) -> None:
    """Load filings from local files and folders.

    PATHS are files or folders (searched recursively) of full submissions (.txt, .nc,
    .sgml) or bare ownership XML (.xml), each possibly gzip-compressed (.gz). Filings
    already stored with the same bytes are left unchanged; changed ones are replaced.
    A file that cannot be read or parsed is recorded in ingest_errors and skipped.

    Prints `loaded N, replaced N, unchanged N, failed N`; exits 1 if any failed.
    """
    if accession is not None and (len(paths) != 1 or not paths[0].is_file()):
        raise click.UsageError("--accession needs exactly one file (not a folder)")
    target = db.ready()
    total = sum(1 for _ in iter_input_files(paths))
    tasks = ((str(p), accession) for p in iter_input_files(paths))
    outcomes = run_pipeline(
        read_and_parse, tasks, _worker_count(workers, total), prefetch=2 * batch_size
    )
    with db.connect(target.url, autocommit=True) as conn:
        counts = _aborting_on_database_loss(
            lambda: load_outcomes(Loader(conn), outcomes, batch_size, total, "ingest")
        )
    _finish(counts)


def iter_input_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named on the command line as given; folders walked, in sorted order,
    for input suffixes (optionally ``.gz``). Lazy: millions of files cost no memory."""
    for path in paths:
        if path.is_dir():
            yield from _walk(path)
        else:
            yield path


def _walk(folder: Path) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        log.warning("cannot list %s: %s", folder, exc)
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        elif entry.is_file() and is_input_name(entry.name):
            yield Path(entry.path)


def is_input_name(name: str) -> bool:
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    return lower.endswith(INPUT_SUFFIXES)


# ---------------------------------------------------------------------------
# reparse
# ---------------------------------------------------------------------------


@cli.command()
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Re-parse and rewrite every filing, not only those stored by an older parser.",
)
@_batch_size_option
@_parser_workers_option
def reparse(everything: bool, batch_size: int, workers: int | None) -> None:
    """Re-parse stored filings from their raw bytes and rebuild their rows.

    Needs no network. By default only filings stored by another parser version are
    redone; --all redoes every one. Raw bytes come from raw_submissions and are streamed
    with a server-side cursor, so memory stays flat whatever the size of the database.
    """
    target = db.ready()
    where = "" if everything else "WHERE f.parser_version IS DISTINCT FROM %(version)s"
    params = {"version": PARSER_VERSION}
    with (
        db.connect(target.url) as reader,
        db.connect(target.url, autocommit=True) as writer,
    ):
        total = reader.execute(
            f"SELECT count(*) FROM filings f JOIN raw_submissions r USING (accession_number) "
            f"{where}",
            params,
        ).fetchone()[0]
        if not everything:
            current = writer.execute(
                "SELECT count(*) FROM filings WHERE parser_version = %s", (PARSER_VERSION,)
            ).fetchone()[0]
            if current:
                click.echo(
                    f"{current} filings already at parser version {PARSER_VERSION} "
                    "(skipped; --all redoes them)"
                )
        tasks = _stored_raw(reader, where, params, batch_size)
        outcomes = run_pipeline(
            reparse_stored, tasks, _worker_count(workers, total), prefetch=2 * batch_size
        )
        counts = _aborting_on_database_loss(
            lambda: load_outcomes(
                Loader(writer), outcomes, batch_size, total, "reparse", force=everything
            )
        )
    _finish(counts)


def _stored_raw(
    conn: psycopg.Connection, where: str, params: dict, itersize: int
) -> Iterator[tuple[str, str | None, bytes, str | None]]:
    # A named (server-side) cursor: rows arrive itersize at a time, never all at once.
    with conn.cursor(name="edgar_reparse") as cur:
        cur.itersize = itersize
        cur.execute(
            "SELECT f.accession_number, f.source_name, r.raw, r.compression "
            "FROM filings f JOIN raw_submissions r USING (accession_number) "
            f"{where} ORDER BY f.accession_number",
            params,
        )
        for acc, source_name, raw, compression in cur:
            yield acc, source_name, bytes(raw), compression


# ---------------------------------------------------------------------------
# Shared by ingest and reparse: parse in processes, load in this one
# ---------------------------------------------------------------------------


# Below this many files, starting worker processes (~0.5 s each) costs more than it saves.
POOL_THRESHOLD = 200


def _worker_count(requested: int | None, total: int) -> int:
    if requested is None and total < POOL_THRESHOLD:
        return 0
    if requested is None:
        return os.cpu_count() or 1
    return requested


def run_pipeline(
    work: Callable[[T], Outcome],
    tasks: Iterable[T],
    workers: int,
    *,
    prefetch: int = 2 * DEFAULT_BATCH_SIZE,
    chunk: int = 32,
) -> Iterator[Outcome]:
    """``work(task)`` for every task, results in task order.

    With workers > 0 the calls run in a process pool (spawned: no inherited database
    connections) while the caller consumes results, so parsing and loading overlap.
    About ``prefetch`` tasks are in flight: enough for the workers to parse the next
    batch while the caller loads this one (so make it at least twice the batch size),
    and a bound on memory however many tasks there are. Finished chunks wait in the
    window as the pickled bytes the worker sent (a third of the size of the objects) and
    are unpickled when their turn comes.
    """
    if workers <= 0:
        yield from map(work, tasks)
        return
    in_flight = max(workers * 2, -(-prefetch // chunk))
    window: deque[Future[bytes]] = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        for group in _chunks(tasks, chunk):
            window.append(pool.submit(run_chunk_pickled, work, group))
            if len(window) >= in_flight:
                yield from pickle.loads(window.popleft().result())
        while window:
            yield from pickle.loads(window.popleft().result())


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    group: list[T] = []
    for item in items:
        group.append(item)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


def load_outcomes(
    loader: Loader,
    outcomes: Iterable[Outcome],
    batch_size: int,
    total: int,
    label: str,
    *,
    force: bool = False,
) -> Counter[str]:
    """Load parsed items in batches, record file failures; returns counts per status."""
    counts: Counter[str] = Counter()
    progress = Progress(total, label)
    batch: list[LoadItem] = []
    try:
        for outcome in outcomes:
            if isinstance(outcome, FileFailure):
                loader.record_error(outcome.stage, outcome.message, source_name=outcome.source_name)
                where = "" if outcome.source_name in outcome.message else f"{outcome.source_name}: "
                log.error("%s%s", where, outcome.message)
                counts["failed"] += 1
                progress.advance(1, failed=1)
                continue
            batch.append(outcome)
            if len(batch) >= batch_size:
                _load_batch(loader, batch, counts, progress, force)
                batch = []
        if batch:
            _load_batch(loader, batch, counts, progress, force)
    finally:
        progress.close()
    return counts


def _load_batch(
    loader: Loader,
    batch: Sequence[LoadItem],
    counts: Counter[str],
    progress: Any,
    force: bool,
) -> None:
    results: list[LoadResult] = loader.load(batch, force=force)
    batch_counts = Counter(r.status for r in results)
    stored = {r.accession_number for r in results if r.status in ("loaded", "replaced")}
    batch_counts["unparsed"] = sum(
        1 for item in batch if item.parse_error and item.accession_number in stored
    )
    counts.update(batch_counts)
    progress.advance(len(results), **{k: v for k, v in batch_counts.items() if v})


def _aborting_on_database_loss(load: Callable[[], Counter[str]]) -> Counter[str]:
    """Run the loading phase. The database lost (restart, shutdown) or failing once work
    is under way is a failed run, exit 1 (run again: every committed batch stays), not
    the configuration error (exit 2) that an unreachable database at start-up is."""
    from .sync import database_failed  # late: ingest.sync imports the fetch stage

    try:
        return load()
    except psycopg.OperationalError as exc:
        click.echo(f"error: {database_failed(exc)}", err=True)
        sys.exit(1)


def _finish(counts: Counter[str]) -> None:
    failed = counts["failed"]
    line = (
        f"loaded {counts['loaded']}, replaced {counts['replaced']}, "
        f"unchanged {counts['unchanged']}, failed {failed}"
    )
    if failed:
        line += f" {STATUS_HINT}"
    click.echo(line)
    if counts["unparsed"]:
        click.echo(
            f"{counts['unparsed']} filings stored without a parsed document (XML errors) "
            f"{STATUS_HINT}"
        )
    if failed:
        sys.exit(1)


# ---------------------------------------------------------------------------
# status
# ---------------------------------------------------------------------------

# Above this many rows (planner estimate) a table's count is the estimate: an exact
# count(*) of tens of millions of rows takes seconds per table.
EXACT_COUNT_LIMIT = 1_000_000


@cli.command()
def status() -> None:
    """Show rows per table, the newest filing and recent errors.

    Also shows the database (password hidden), its schema revision and the parser
    version. Tables above a million rows show the planner's estimate (~).
    """
    target = db.ready()
    with db.connect(target.url, autocommit=True) as conn:
        click.echo(f"database: {target.display}")
        click.echo(f"schema revision: {db.current_revision(target.url)} (head {db.head_revision()})")
        click.echo(f"parser version: {PARSER_VERSION}")
        click.echo("rows:")
        rows = table_counts(conn)
        for table, count, estimated in rows:
            click.echo(f"  {table:<30} {'~' if estimated else ' '}{count:>12,}")
        newest = conn.execute(
            "SELECT accession_number, form_type, issuer_name, filed_date, accepted_at "
            "FROM filings ORDER BY filed_date DESC NULLS LAST, accepted_at DESC NULLS LAST, "
            "accession_number DESC LIMIT 1"
        ).fetchone()
        if newest is None:
            click.echo("newest filing: none yet")
        else:
            acc, form, issuer, filed, accepted = newest
            # EDGAR's clock is New York time; show acceptance as filers and SEC see it.
            when = accepted.astimezone(EASTERN).isoformat() if accepted else str(filed or "?")
            click.echo(f"newest filing: {acc} form {form or '?'} {issuer or ''} ({when})".rstrip())
        _show_fetch_queue(conn)
        errors = conn.execute(
            "SELECT occurred_at, stage, accession_number, source_name, message "
            "FROM ingest_errors ORDER BY id DESC LIMIT 10"
        ).fetchall()
        total_errors = next((n for table, n, _ in rows if table == "ingest_errors"), len(errors))
        click.echo(f"recent errors ({total_errors:,} in all):" if errors else "recent errors: none")
        for occurred, stage, acc, source, message in errors:
            what = acc or source or "?"
            click.echo(f"  {occurred:%Y-%m-%d %H:%M:%S} [{stage}] {what}: {_one_line(message)}")


def _show_fetch_queue(conn: psycopg.Connection) -> None:
    """The fetcher's queue by status, and the filings that failed or are missing on EDGAR."""
    by_status = dict(conn.execute("SELECT status, count(*) FROM fetch_queue GROUP BY status").fetchall())
    if not by_status:
        click.echo("fetch queue: empty")
        return
    order = ("pending", "done", "failed", "missing")
    click.echo("fetch queue: " + ", ".join(f"{status} {by_status.get(status, 0):,}" for status in order))
    last_day = conn.execute(
        "SELECT max(day) FROM discovered_sources WHERE kind = 'daily' AND found"
    ).fetchone()[0]
    if last_day:
        click.echo(f"last daily index read: {last_day}")
    problems = conn.execute(
        "SELECT accession_number, status, attempts, filed_date, path, last_error FROM fetch_queue"
        " WHERE status IN ('failed', 'missing') ORDER BY filed_date DESC, accession_number LIMIT 50"
    ).fetchall()
    if problems:
        click.echo("filings not loaded (failed or missing on EDGAR; the next run retries failed ones):")
    for acc, state, attempts, filed, path, error in problems:
        click.echo(f"  {acc} {state} after {attempts} attempt(s), filed {filed}: {path}: {_one_line(error)}")


def table_counts(conn: psycopg.Connection) -> list[tuple[str, int, bool]]:
    """(table, rows, is_estimate) for every table of the public schema but Alembic's."""
    tables = conn.execute(
        "SELECT c.relname, c.reltuples::bigint FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
        "AND c.relname <> 'alembic_version' ORDER BY c.relname"
    ).fetchall()
    out = []
    for name, estimate in tables:
        if estimate > EXACT_COUNT_LIMIT:
            out.append((name, int(estimate), True))
        else:
            count = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            out.append((name, count, False))
    return out


def _one_line(text: str | None, limit: int = 160) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _register_edgar_commands() -> None:
    """sync, backfill and verify talk to EDGAR (cli_edgar); grant-reader is the analysts'
    role (analyst). Imported here, late, so those modules can import this one's helpers."""
    from .analyst import grant_reader_command
    from .cli_analyst import COMMANDS as ANALYST_COMMANDS
    from .cli_edgar import COMMANDS

    for command in (*COMMANDS, grant_reader_command, *ANALYST_COMMANDS):
        cli.add_command(command)


_register_edgar_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``edgar-insider``)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="edgar-insider")


if __name__ == "__main__":
    main()

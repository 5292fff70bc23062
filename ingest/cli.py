"""The ``edgar-insider`` command line (click): options in, one library call, a report out.

Each command parses its options and calls one function of ``ingest.runs`` (or of another
library module); nothing here decides what a failure means. Whatever a command raises is
translated by ``ingest.errors.as_stop`` into one line on stderr ("Error: ...", as click
prints its own usage errors) and its exit code
(:class:`EdgarGroup`); a finished run's code comes from ``ingest.errors.exit_code_for``.
The exit codes are listed in ``ingest/errors.py`` and the README.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NoReturn

import click

from . import db, runs
from . import status as status_report
from .config import EdgarSettings
from .datasets import FIRST_QUARTER, normalize_quarter, quarter_name
from .errors import ExitCode, as_stop, exit_code_for
from .fetch import EdgarClient, RetryPolicy
from .pipeline import DEFAULT_BATCH_SIZE, RunReport
from .progress import WatchLines
from .records import PARSER_VERSION

log = logging.getLogger(__name__)

STATUS_HINT = "(see: edgar-insider status)"
# Feed pages are asked for again at the next poll anyway: a short retry policy, so that the
# 503 EDGAR answers past the last page costs seconds, not the fetcher's two minutes.
FEED_RETRY = RetryPolicy(max_attempts=2, backoff_initial=0.5, backoff_max=2.0)
FAILURES_SHOWN = 20


class EdgarGroup(click.Group):
    """Every command's failures become one line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            stop = as_stop(exc)
            if stop is None:
                raise  # a bug: let it show
            click.echo(f"Error: {stop}", err=True)
            ctx.exit(int(stop.exit_code))


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


# ---------------------------------------------------------------------------------------------
# Shared options and the end of a run
# ---------------------------------------------------------------------------------------------


def batch_size_option(default: int) -> Callable[[Callable], Callable]:
    return click.option(
        "--batch-size", type=click.IntRange(1, 100_000), default=default, show_default=True,
        help="Filings loaded per database transaction.",
    )


parser_workers_option = click.option(
    "--workers", type=click.IntRange(0, 256), default=None,
    help="Parser processes [default: CPU count, none for small runs]; 0 parses in the loading "
    "process.",
)
fetch_workers_option = click.option(
    "--workers", type=click.IntRange(1, 32), default=runs.FETCH_WORKERS, show_default=True,
    help="Fetch threads. They share one rate limit (EDGAR_MAX_RPS, at most 10/s).",
)


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=name) from exc


def _client() -> EdgarClient:
    return EdgarClient(EdgarSettings.from_env())


def finish(report: RunReport) -> NoReturn:
    """Print a run's summary and the filings that need attention; exit with its code."""
    code = exit_code_for(report)
    click.echo(report.summary() + (f" {STATUS_HINT}" if code else ""))
    attention = [*report.failures, *report.unparsed_filings]
    for key, message in attention[:FAILURES_SHOWN]:
        click.echo(f"  {key}: {message}", err=True)
    if len(attention) > FAILURES_SHOWN:
        click.echo(f"  ... and {len(attention) - FAILURES_SHOWN} more {STATUS_HINT}", err=True)
    sys.exit(int(code))


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


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


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--accession",
              help="Accession number to file a single input under (when its name and content lack one).")
@batch_size_option(DEFAULT_BATCH_SIZE)
@parser_workers_option
def ingest(paths: tuple[Path, ...], accession: str | None, batch_size: int, workers: int | None) -> None:
    """Load filings from local files and folders.

    PATHS are files or folders (searched recursively) of full submissions (.txt, .nc,
    .sgml) or bare ownership XML (.xml), each possibly gzip-compressed (.gz). Filings
    already stored with the same bytes are left unchanged; changed ones are replaced.
    A file that cannot be read or is not a filing is recorded in ingest_errors and skipped.

    Prints what it did; exits 1 if any file failed or was stored unparsed.
    """
    if accession is not None and (len(paths) != 1 or not paths[0].is_file()):
        raise click.UsageError("--accession needs exactly one file (not a folder)")
    target = db.ready()
    finish(runs.ingest_files(target.url, paths, accession, workers=workers, batch_size=batch_size))


@cli.command()
@click.option("--all", "everything", is_flag=True,
              help="Re-parse and rewrite every filing, not only those stored by an older parser.")
@batch_size_option(DEFAULT_BATCH_SIZE)
@parser_workers_option
def reparse(everything: bool, batch_size: int, workers: int | None) -> None:
    """Re-parse stored filings from their raw bytes and rebuild their rows.

    Needs no network. By default only filings stored by another parser version are
    redone; --all redoes every one. Raw bytes are read a page at a time, so memory stays
    flat whatever the size of the database.
    """
    target = db.ready()
    if not everything:
        current = runs.filings_at_parser_version(target.url, PARSER_VERSION)
        if current:
            click.echo(f"{current} filings already at parser version {PARSER_VERSION} "
                       "(skipped; --all redoes them)")
    finish(runs.reparse_filings(target.url, everything, workers=workers, batch_size=batch_size))


@cli.command()
@click.option("--date", "one_day", metavar="YYYY-MM-DD", help="Sync this one day only.")
@click.option("--since", metavar="YYYY-MM-DD", help="Sync every day from this one through yesterday.")
@fetch_workers_option
@batch_size_option(runs.FETCH_BATCH_SIZE)
def sync(one_day: str | None, since: str | None, workers: int, batch_size: int) -> None:
    """Fetch and load the ownership filings EDGAR published (the nightly job).

    With no option it covers every day from the day after the last daily index it
    read through yesterday (US Eastern; EDGAR builds a day's index from about 10 pm ET),
    finishes any filing an interrupted sync left behind, and retries failed or missing
    filings whose retry is due (hourly at first, then daily, for 14 days). --date and
    --since retry every filing of their days not loaded yet. Only Forms 3, 4, 5 and their
    amendments are fetched, one request per filing. Running it twice changes nothing.
    """
    if one_day and since:
        raise click.UsageError("give --date or --since, not both")
    client = _client()
    target = db.ready()
    yesterday = runs.yesterday_eastern()
    with client, runs.Run(target.url, client, workers=workers, batch_size=batch_size,
                          progress_stream=sys.stderr, command="sync") as run:
        if one_day:
            days = [_day(one_day, "--date")]
        elif since:
            days = runs.days_between(_day(since, "--since"), yesterday)
        else:
            days = run.default_sync_days(yesterday)
        report = run.sync(days)
    finish(report)


@cli.command()
@click.option("--from", "first", metavar="YYYY-MM-DD",
              help="First filing date (with --datasets also a quarter: 2006q1).")
@click.option("--to", "last", metavar="YYYY-MM-DD",
              help="Last filing date (default: yesterday; with --datasets: the last published quarter).")
@click.option("--cik", type=int, help="Backfill one issuer's or person's filings (submissions JSON).")
@click.option("--datasets", is_flag=True,
              help="Load SEC's quarterly Insider Transactions Data Sets (2006 onward, one request per "
              "quarter) instead of fetching each filing: all of history in about an hour, numbers "
              "rounded to 2 decimals until the filings themselves replace them.")
@click.option("--refresh", is_flag=True, help="With --datasets: fetch quarters loaded before again.")
@click.option("--datasets-first", is_flag=True,
              help="With --from/--to: first fetch (newest first) the filings known so far only from a "
              "data set, then the rest of the range.")
@fetch_workers_option
@batch_size_option(runs.FETCH_BATCH_SIZE)
def backfill(first: str | None, last: str | None, cik: int | None, datasets: bool, refresh: bool,
             datasets_first: bool, workers: int, batch_size: int) -> None:
    """Load history: a date range quarter by quarter, every filing of one CIK, or SEC's
    quarterly data sets.

    --from/--to read EDGAR's quarterly full indexes (ownership XML starts mid-2003; all of
    history is about 4-5 million filings, about a week at 10 requests/s). --cik reads
    data.sec.gov's submissions JSON and its older pages. --datasets loads the whole
    2006-onward history from about 80 zips; the filings fetched later (by this command or the
    nightly sync) replace their rounded rows one by one. Resumable: run it again after an
    interruption and it does only what is not done yet, failed filings included.
    """
    if datasets:
        if cik is not None or datasets_first:
            raise click.UsageError("--datasets takes --from/--to (quarters or dates) only")
        start_q = _quarter(first, "--from") or FIRST_QUARTER
        end_q = _quarter(last, "--to") or quarter_name(runs.yesterday_eastern() - timedelta(days=92))
    elif (first is None) == (cik is None):
        raise click.UsageError("give either --from (with optional --to), --cik, or --datasets")
    elif refresh or (datasets_first and cik is not None):
        raise click.UsageError("--refresh goes with --datasets, --datasets-first with --from/--to")
    start = _day(first, "--from") if not datasets else None
    end = (_day(last, "--to") or runs.yesterday_eastern()) if not datasets else None
    if start is not None and end is not None and start > end:
        raise click.UsageError("--from is after --to")
    client = _client()
    target = db.ready()
    with client, runs.Run(target.url, client, workers=workers, batch_size=batch_size,
                          progress_stream=sys.stderr, command="backfill",
                          lease_seconds=runs.DATASET_LEASE_SECONDS if datasets else None) as run:
        if datasets:
            report = run.backfill_datasets(start_q, end_q, refresh=refresh)
        elif cik is not None:
            report = run.backfill_cik(cik)
        else:
            if datasets_first:
                run.fetch_dataset_only(start, end)
            report = run.backfill_dates(start, end)
    finish(report)


def _quarter(value: str | None, name: str) -> str | None:
    """A quarter (``2006q1``) or a date (its quarter)."""
    if value is None:
        return None
    try:
        return normalize_quarter(value)
    except ValueError:
        return quarter_name(_day(value, name))


@cli.command()
@click.option("--interval", type=click.FloatRange(min=1), default=60.0, show_default=True,
              metavar="SECONDS", help="Seconds between two polls of EDGAR's latest-filings feed.")
@fetch_workers_option
@batch_size_option(50)
def watch(interval: float, workers: int, batch_size: int) -> None:
    """Keep the database current intraday: poll EDGAR's latest-filings feed and load each new
    Form 3, 4, 5 (and amendment) within minutes of its acceptance.

    Runs until SIGTERM or SIGINT (Ctrl-C), which stop it after the current batch. Network
    errors, SEC block pauses and a database restart are waited out with backoff, never an
    exit. Runs beside the nightly sync and a backfill (they share the machine's 10
    requests/s and never fetch the same filing); one watch per database (a second exits 3).
    The nightly sync stays the reconciliation: whatever the feed missed, the day's index
    brings in. One line per poll (a live status line on a terminal).
    """
    client = _client()
    poll_client = EdgarClient(client.settings, limiter=client.limiter, retry=FEED_RETRY)
    target = db.ready()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    say = WatchLines(sys.stderr)
    with client, poll_client:
        runs.Watch(target.url, client, poll_client, interval=interval, workers=workers,
                   batch_size=batch_size, stop=stop, say=say).run()
    say.close()


@cli.command()
@click.option("--date", "one_day", metavar="YYYY-MM-DD", help="Verify this one day.")
@click.option("--from", "first", metavar="YYYY-MM-DD", help="First day to verify.")
@click.option("--to", "last", metavar="YYYY-MM-DD", help="Last day to verify (default: yesterday).")
def verify(one_day: str | None, first: str | None, last: str | None) -> None:
    """Compare the database with EDGAR's daily indexes and list the differences.

    For each day: ownership filings EDGAR lists that are not in the database (missing;
    with their queue state), and filings in the database filed that day that EDGAR's index
    does not list (extra). Exits 1 when any filing is missing.
    """
    if one_day and (first or last):
        raise click.UsageError("give --date, or --from/--to, not both")
    if one_day:
        days = [_day(one_day, "--date")]
    elif first:
        days = runs.days_between(_day(first, "--from"), _day(last, "--to") or runs.yesterday_eastern())
    else:
        raise click.UsageError("give --date D or --from D [--to D]")
    client = _client()
    target = db.ready()
    with client:
        checks = runs.verify_days(target.url, client, days)
    for check in checks:
        for line in _verify_lines(check):
            click.echo(line)
    sys.exit(int(ExitCode.INCOMPLETE if any(c.missing for c in checks) else ExitCode.OK))


def _verify_lines(check: runs.DayCheck) -> list[str]:
    if not check.has_index:
        return [f"{check.day}: no daily index on EDGAR (weekend or holiday)"]
    lines = [f"{check.day}: EDGAR lists {check.listed} ownership filings; "
             f"missing {len(check.missing)}, extra {len(check.extra)}"]
    lines += [f"  missing {acc} ({form}, queue: {state})" for acc, form, state in check.missing]
    lines += [f"  extra   {acc} (in the database, not in EDGAR's index for {check.day})"
              for acc in check.extra]
    return lines


@cli.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print the status as one JSON document (fields: docs/operations.md).")
@click.option("--check", is_flag=True,
              help="Exit 1 when something needs attention: no successful sync within --max-age, "
              "filings given up or failing for over a day, an old schema (for cron and monitors).")
@click.option("--max-age", type=click.FloatRange(min=0, min_open=True),
              default=status_report.DEFAULT_MAX_AGE_HOURS, show_default=True, metavar="HOURS",
              help="With --check: how old the last successful sync may be.")
@click.option("--days", type=click.IntRange(1, 3650), default=status_report.DEFAULT_ERROR_DAYS,
              show_default=True, help="Count errors of the last DAYS days.")
def status(as_json: bool, check: bool, max_age: float, days: int) -> None:
    """Show rows per table, the newest filing and the load lag, the last sync, the fetch
    queue and its retries, recent errors, and what needs attention.

    Also shows the database (password hidden) and its size, its schema revision and the
    parser version. Tables above a million rows show the planner's estimate (~).
    """
    target = db.ready()
    with db.connect(target.url, autocommit=True) as conn:
        report = status_report.collect(conn, target, max_age_hours=max_age, error_days=days)
    if as_json:
        click.echo(status_report.to_json(report))
    else:
        for line in status_report.render(report):
            click.echo(line)
    if check and not report["check"]["ok"]:
        sys.exit(int(ExitCode.INCOMPLETE))


def _register_commands() -> None:
    """Commands that live beside their library code (analysts' role, ...)."""
    from .analyst import grant_reader_command
    from .cli_analyst import COMMANDS as ANALYST_COMMANDS  # sql, psql, db-url
    from .cli_ops import COMMANDS as OPS_COMMANDS  # backup, restore

    for command in (*OPS_COMMANDS, grant_reader_command, *ANALYST_COMMANDS):
        cli.add_command(command)


_register_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``edgar-insider``)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="edgar-insider")


if __name__ == "__main__":
    main()

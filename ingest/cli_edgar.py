"""The commands that talk to EDGAR: ``sync``, ``backfill`` and ``verify``.

Exit codes: 0 all done; 1 some filings failed or are missing (``edgar-insider status``
lists them); 2 usage or configuration error (no EDGAR_USER_AGENT, bad dates, ...);
3 another sync/backfill holds this database's lock.
"""

from __future__ import annotations

import sys
from datetime import date

import click
import psycopg

from . import db
from .config import ConfigError, EdgarSettings
from .discover import discover_day, filter_ownership
from .fetch import EdgarClient, Unavailable
from .sync import Run, RunAborted, RunLocked, database_failed, days_between, yesterday_eastern

EXIT_LOCKED = 3


class Locked(click.ClickException):
    exit_code = EXIT_LOCKED


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=name) from exc


def _client() -> EdgarClient:
    return EdgarClient(EdgarSettings.from_env())


_workers_option = click.option(
    "--workers", type=click.IntRange(1, 32), default=4, show_default=True,
    help="Fetch threads. They share one rate limit (EDGAR_MAX_RPS, at most 10/s).",
)
_batch_option = click.option(
    "--batch-size", type=click.IntRange(1, 5000), default=200, show_default=True,
    help="Filings loaded per database transaction.",
)


def _run(database_url: str, client: EdgarClient, workers: int, batch_size: int) -> Run:
    return Run(database_url, client, workers=workers, batch_size=batch_size, progress_stream=sys.stderr)


def _finish(run: Run) -> None:
    report = run.report
    click.echo(report.summary())
    for accession, message in report.failures[:20]:
        click.echo(f"  {accession}: {message}", err=True)
    if len(report.failures) > 20:
        click.echo(f"  ... and {len(report.failures) - 20} more (see: edgar-insider status)", err=True)
    sys.exit(report.exit_code)


def _guarded(action) -> None:
    try:
        action()
    except RunLocked as exc:
        raise Locked(str(exc)) from exc
    except RunAborted as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except psycopg.OperationalError as exc:
        # The database went away outside the load loop (discovery, queue bookkeeping): a
        # failed run like any other (exit 1, run again), not a configuration error (exit 2).
        click.echo(f"error: {database_failed(exc)}", err=True)
        sys.exit(1)
    except psycopg.errors.InsufficientPrivilege as exc:
        # DATABASE_URL names a role that may not write (e.g. the analysts' reader).
        reason = (str(exc).strip().splitlines() or ["permission denied"])[0]
        raise ConfigError(
            f"the database refused a write ({reason}): DATABASE_URL must name the role that "
            "owns the edgar-insider tables, not a read-only one"
        ) from exc


@click.command()
@click.option("--date", "one_day", metavar="YYYY-MM-DD", help="Sync this one day only.")
@click.option("--since", metavar="YYYY-MM-DD", help="Sync every day from this one through yesterday.")
@_workers_option
@_batch_option
def sync(one_day: str | None, since: str | None, workers: int, batch_size: int) -> None:
    """Fetch and load the ownership filings EDGAR published (the nightly job).

    With no option it covers every day from the day after the last daily index it
    read through yesterday (US Eastern; EDGAR builds a day's index from about 10 pm ET),
    and finishes any filing an interrupted sync left behind. Only Forms 3, 4, 5 and
    their amendments are fetched, one request per filing. Running it twice for the same
    day changes nothing.
    """
    if one_day and since:
        raise click.UsageError("give --date or --since, not both")
    settings_client = _client()
    target = db.ready()
    yesterday = yesterday_eastern()

    def action() -> None:
        with settings_client, _run(target.url, settings_client, workers, batch_size) as run:
            if one_day:
                days = [_day(one_day, "--date")]
            elif since:
                days = days_between(_day(since, "--since"), yesterday)
            else:
                days = run.default_sync_days(yesterday)
            run.sync(days)
            _finish(run)

    _guarded(action)


@click.command()
@click.option("--from", "first", metavar="YYYY-MM-DD", help="First filing date to backfill.")
@click.option("--to", "last", metavar="YYYY-MM-DD", help="Last filing date (default: yesterday).")
@click.option("--cik", type=int, help="Backfill one issuer's or person's filings (submissions JSON).")
@_workers_option
@_batch_option
def backfill(first: str | None, last: str | None, cik: int | None, workers: int, batch_size: int) -> None:
    """Load history: a date range quarter by quarter, or every filing of one CIK.

    --from/--to read EDGAR's quarterly full indexes (ownership XML starts mid-2003; all of
    history is about 4-5 million filings, about a week at 10 requests/s). --cik reads
    data.sec.gov's submissions JSON and its older pages. Resumable: run it again after
    an interruption and it fetches only what is not loaded yet.
    """
    if (first is None) == (cik is None):
        raise click.UsageError("give either --from (with optional --to) or --cik")
    client = _client()
    target = db.ready()

    def action() -> None:
        with client, _run(target.url, client, workers, batch_size) as run:
            if cik is not None:
                run.backfill_cik(cik)
            else:
                start = _day(first, "--from")
                end = _day(last, "--to") or yesterday_eastern()
                if start > end:
                    raise click.UsageError("--from is after --to")
                run.backfill_dates(start, end)
            _finish(run)

    _guarded(action)


@click.command()
@click.option("--date", "one_day", metavar="YYYY-MM-DD", help="Verify this one day.")
@click.option("--from", "first", metavar="YYYY-MM-DD", help="First day to verify.")
@click.option("--to", "last", metavar="YYYY-MM-DD", help="Last day to verify (default: yesterday).")
def verify(one_day: str | None, first: str | None, last: str | None) -> None:
    """Compare the database with EDGAR's daily indexes and list the differences.

    For each day: ownership filings EDGAR lists that are not in the database (missing;
    those whose fetch failed are marked so), and filings in the database filed that day
    that EDGAR's index does not list (extra). Exits 1 when any filing is missing.
    """
    if one_day and (first or last):
        raise click.UsageError("give --date, or --from/--to, not both")
    if one_day:
        days = [_day(one_day, "--date")]
    elif first:
        end = _day(last, "--to") or yesterday_eastern()
        days = days_between(_day(first, "--from"), end)
    else:
        raise click.UsageError("give --date D or --from D [--to D]")
    client = _client()
    target = db.ready()
    missing_total = 0
    with client, db.connect(target.url, autocommit=True) as conn:
        for day in days:
            missing_total += _verify_day(conn, client, day)
    sys.exit(1 if missing_total else 0)


def _verify_day(conn, client: EdgarClient, day: date) -> int:
    entries = discover_day(client, day, not_found=Unavailable)
    if entries is None:
        click.echo(f"{day}: no daily index on EDGAR (weekend or holiday)")
        return 0
    listed = {e.accession_number: e for e in filter_ownership(entries)}
    stored = {
        row[0]
        for row in conn.execute(
            "SELECT accession_number FROM filings WHERE accession_number = ANY(%s)"
            " OR filed_date = %s",
            (list(listed), day),
        ).fetchall()
    }
    queue_status = dict(
        conn.execute(
            "SELECT accession_number, status FROM fetch_queue WHERE accession_number = ANY(%s)",
            (list(listed),),
        ).fetchall()
    )
    missing = sorted(set(listed) - stored)
    extra = sorted(
        acc for acc in stored - set(listed)
        if _filed_on(conn, acc) == day
    )
    click.echo(f"{day}: EDGAR lists {len(listed)} ownership filings; "
               f"missing {len(missing)}, extra {len(extra)}")
    for acc in missing:
        state = queue_status.get(acc, "not queued")
        click.echo(f"  missing {acc} ({listed[acc].form_type}, queue: {state})")
    for acc in extra:
        click.echo(f"  extra   {acc} (in the database, not in EDGAR's index for {day})")
    return len(missing)


def _filed_on(conn, accession: str) -> date | None:
    row = conn.execute(
        "SELECT filed_date FROM filings WHERE accession_number = %s", (accession,)
    ).fetchone()
    return row[0] if row else None


COMMANDS = (sync, backfill, verify)

__all__ = ["COMMANDS", "ConfigError"]

"""Days of EDGAR made from the corpus, for the stand-in (tests and benchmarks).

Real full submissions are copied under new accession numbers (the header's accession
is rewritten too) so a test can publish as many distinct ownership filings on a day as
it needs, alongside non-ownership filings (10-K, 8-K) that must never be fetched.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from tests.edgar_standin import Filer, SiteFiling, make_submission
from tests.standin_feed import EASTERN

SUBMISSIONS = Path(__file__).parent / "fixtures" / "submissions"
# Real `.txt` submissions with ownership XML (the text-header layout the stand-in reads).
_TEMPLATES = sorted(
    p for p in SUBMISSIONS.glob("*.txt")
    if "header-only" not in p.name and not p.name.startswith("0001094891-00")
)
_ACCESSION = re.compile(rb"\d{10}-\d{2}-\d{6}")
_ACCEPTANCE = re.compile(rb"<ACCEPTANCE-DATETIME>\d{14}")


def template_submissions() -> list[bytes]:
    """The corpus submissions the stand-in can publish: those whose text header it reads
    (a few corpus `.txt` files are bare documents or other layouts, e.g. the Tesla XML)."""
    return [raw for raw in map(Path.read_bytes, _TEMPLATES) if _publishable(raw)]


def _publishable(raw: bytes) -> bool:
    try:
        SiteFiling.from_submission(raw)
    except ValueError:
        return False
    return True


def accession_for(agent: int, year: int, serial: int) -> str:
    return f"{agent:010d}-{year % 100:02d}-{serial:06d}"


def copy_as(raw: bytes, accession: str, filed: date) -> SiteFiling:
    """A real submission re-published under ``accession`` on ``filed``."""
    original = SiteFiling.from_submission(raw)
    content = raw.replace(original.accession.encode(), accession.encode())
    content = content.replace(
        original.filed.strftime("%Y%m%d").encode(), filed.strftime("%Y%m%d").encode()
    )
    return replace(
        SiteFiling.from_submission(content), accession=accession, filed=filed, content=content
    )


def with_acceptance(filing: SiteFiling, when: datetime) -> SiteFiling:
    """The filing accepted at ``when`` (aware, or naive US Eastern): its header's
    ACCEPTANCE-DATETIME and its feed entries both say so."""
    eastern = when.astimezone(EASTERN) if when.tzinfo is not None else when
    stamp = eastern.strftime("%Y%m%d%H%M%S")
    content = _ACCEPTANCE.sub(b"<ACCEPTANCE-DATETIME>" + stamp.encode(), filing.content, count=1)
    return replace(filing, content=content, accepted=stamp)


def ownership_day(day: date, count: int, *, agent: int = 9000001, first_serial: int = 1) -> list[SiteFiling]:
    """``count`` distinct ownership filings published on ``day``."""
    templates = template_submissions()
    return [
        copy_as(templates[n % len(templates)], accession_for(agent, day.year, first_serial + n), day)
        for n in range(count)
    ]


def other_forms(day: date, count: int, *, agent: int = 9000002) -> list[SiteFiling]:
    """Non-ownership filings on ``day``: listed in the indexes, never to be fetched."""
    forms = ["10-K", "8-K", "SC 13G", "424B3", "40-F"]
    return [
        make_submission(
            accession_for(agent, day.year, n + 1),
            forms[n % len(forms)],
            day,
            [Filer(cik=1000 + n, name=f"OTHER COMPANY {n} INC", role="filer")],
        )
        for n in range(count)
    ]

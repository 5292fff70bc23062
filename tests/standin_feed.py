"""The stand-in's latest-filings Atom feed (``/cgi-bin/browse-edgar?action=getcurrent``).

Rendered in the exact byte layout of the 52 pages EDGAR served on 12 Dec 2025
(``tests/fixtures/feeds/``; ``tests/test_standin_feed.py`` renders every real page's entries
back to the real bytes). What the pages show and the stand-in copies:

* entries newest first, then by CIK descending, then by accession descending (so the entries of
  two filings accepted in the same second interleave, as on EDGAR);
* one entry per filer of a filing; ``type=`` is a prefix filter on the form type;
* ``count`` entries from ``start``; at or past the end HTTP 503 with EDGAR's own maintenance
  page, ``Connection: close`` and no Retry-After (the real answer at ``start=5100``);
* ``Content-Type: application/atom+xml``, ``Cache-Control: no-cache`` (the real headers).

Not observed, so chosen here: ``count`` above 100 is served as 100 and a missing ``count`` as
40; ``owner=exclude``/``only`` drop/keep Forms 3, 4, 5 and amendments; the feed's own
``updated`` is the newest entry's acceptance time (EDGAR: the time of the response); a size
below 1 MB is written in whole KB (rounded), above in whole MB.

:class:`LiveFeed` holds the entries and can misbehave on request (:meth:`LiveFeed.quirk`):
leave a filing out of responses, list it twice, or list it below the next filing.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

FEED_PATH = "/cgi-bin/browse-edgar"
EASTERN = ZoneInfo("America/New_York")
FEEDS = Path(__file__).parent / "fixtures" / "feeds"
# What EDGAR answered for the page after the last one (start=5100), byte for byte.
PAST_END_PAGE = (FEEDS / "getcurrent-type4-start5100-http503.atom").read_bytes()
ATOM_CONTENT_TYPE = "application/atom+xml"
MAX_COUNT = 100
DEFAULT_COUNT = 40

_HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Latest Filings - {title_time}</title>
<link rel="alternate" href="/cgi-bin/browse-edgar?action=getcurrent"/>
<link rel="self" href="/cgi-bin/browse-edgar?action=getcurrent"/>
<id>https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent</id>
<author><name>Webmaster</name><email>webmaster@sec.gov</email></author>
<updated>{updated}</updated>
"""
_ENTRY = """<entry>
<title>{form} - {name} ({cik:010d}) ({role})</title>
<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/{cik}/{folder}/{accession}-index.htm"/>
<summary type="html">
 &lt;b&gt;Filed:&lt;/b&gt; {filed} &lt;b&gt;AccNo:&lt;/b&gt; {accession} &lt;b&gt;Size:&lt;/b&gt; {size}
</summary>
<updated>{accepted}</updated>
<category scheme="https://www.sec.gov/" label="form type" term="{form}"/>
<id>urn:tag:sec.gov,2008:accession-number={accession}</id>
</entry>
"""
_TAIL = "</feed>\n"
# EDGAR writes an apostrophe as &#39; (13 names in the real pages) and & as &amp;.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One feed entry: a filing as listed under one filer."""

    form_type: str
    name: str
    cik: int
    role: str  # "Reporting", "Issuer", "Filer", "Subject", "Filed by"
    accession: str
    filed: date
    accepted: datetime  # tz-aware, US Eastern
    size: str  # "10 KB"
    is_ownership: bool = False  # a Form 3, 4, 5 or amendment (``owner=exclude|only``)

    @property
    def order(self) -> tuple[datetime, int, str]:
        """Feed order, descending: acceptance time, then CIK, then accession."""
        return (self.accepted, self.cik, self.accession)


def feed_size(size: int) -> str:
    """The summary's "Size:" for a submission of ``size`` bytes."""
    kilobytes = size / 1024
    if kilobytes < 1024:
        return f"{max(1, round(kilobytes))} KB"
    return f"{round(kilobytes / 1024)} MB"


def atom_feed(rows: Sequence[FeedRow], updated: datetime) -> bytes:
    """One feed page holding ``rows`` (in the order given), as EDGAR writes it."""
    eastern = updated.astimezone(EASTERN)
    parts = [_HEAD.format(title_time=eastern.strftime("%a, %d %b %Y %H:%M:%S %Z"),
                          updated=eastern.isoformat())]
    parts += [
        _ENTRY.format(
            form=row.form_type.translate(_ESCAPES),
            name=row.name.translate(_ESCAPES),
            cik=row.cik,
            role=row.role,
            folder=row.accession.replace("-", ""),
            accession=row.accession,
            filed=row.filed.isoformat(),
            size=row.size,
            accepted=row.accepted.astimezone(EASTERN).isoformat(),
        )
        for row in rows
    ]
    parts.append(_TAIL)
    return "".join(parts).encode("latin-1", errors="xmlcharrefreplace")


@dataclass(frozen=True, slots=True)
class FeedQuery:
    """The query string of a feed request, read as the stand-in serves it."""

    form_prefix: str
    owner: str
    start: int
    count: int

    @classmethod
    def parse(cls, query: str) -> FeedQuery | None:
        """None unless ``action=getcurrent`` and ``output=atom`` (all the stand-in serves)."""
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
        if params.get("action") != "getcurrent" or params.get("output") != "atom":
            return None
        return cls(
            form_prefix=params.get("type", "").strip(),
            owner=params.get("owner", "include"),
            start=max(0, _int(params.get("start"), 0)),
            count=min(MAX_COUNT, max(1, _int(params.get("count"), DEFAULT_COUNT))),
        )

    def selects(self, row: FeedRow) -> bool:
        if not row.form_type.startswith(self.form_prefix):
            return False
        return {"exclude": not row.is_ownership, "only": row.is_ownership}.get(self.owner, True)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


class QuirkKind(StrEnum):
    """Ways the feed misbehaves in a response (what ``watch`` must survive)."""

    DROP = "drop"  # the filing's entries are left out (the rest move up)
    REPEAT = "repeat"  # the filing's entries are listed twice in a row
    REORDER = "reorder"  # the filing's entries come after the next filing's


@dataclass(slots=True)
class _Quirk:
    kind: QuirkKind
    accession: str
    remaining: int


class LiveFeed:
    """The feed's entries, kept in feed order; thread-safe (publish while clients read).

    ``limit``: most entries one feed (one ``type``/``owner`` selection) lists, like EDGAR's
    feed, which ended after 5,100 ``type=4`` entries; None: no limit.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._rows: list[FeedRow] = []
        self._sorted = True
        self._quirks: list[_Quirk] = []

    def add(self, rows: Iterable[FeedRow]) -> None:
        with self._lock:
            self._rows.extend(rows)
            self._sorted = False

    def quirk(self, kind: QuirkKind | str, accession: str, times: int = 1) -> None:
        """Misbehave for ``accession`` in the next ``times`` responses whose page would
        hold it."""
        with self._lock:
            self._quirks.append(_Quirk(QuirkKind(kind), accession, times))

    def rows(self) -> list[FeedRow]:
        """Every entry, in feed order (no quirks)."""
        with self._lock:
            return list(self._ordered())

    def page(self, query: FeedQuery) -> list[FeedRow] | None:
        """The entries one request gets, or None when ``start`` is at or past the end."""
        with self._lock:
            selected = [row for row in self._ordered() if query.selects(row)][: self.limit]
            selected = self._misbehave(selected, query)
        if query.start >= len(selected):
            return None
        return selected[query.start : query.start + query.count]

    def _ordered(self) -> list[FeedRow]:
        if not self._sorted:
            self._rows.sort(key=lambda row: row.order, reverse=True)
            self._sorted = True
        return self._rows

    def _misbehave(self, rows: list[FeedRow], query: FeedQuery) -> list[FeedRow]:
        for quirk in self._quirks:
            at = next((i for i, row in enumerate(rows) if row.accession == quirk.accession), None)
            if at is not None and query.start <= at < query.start + query.count:
                quirk.remaining -= 1
                rows = _QUIRKS[quirk.kind](rows, quirk.accession)
        self._quirks = [q for q in self._quirks if q.remaining > 0]
        return rows


def _drop(rows: list[FeedRow], accession: str) -> list[FeedRow]:
    return [row for row in rows if row.accession != accession]


def _repeat(rows: list[FeedRow], accession: str) -> list[FeedRow]:
    mine = [row for row in rows if row.accession == accession]
    if not mine:
        return rows
    at = rows.index(mine[-1]) + 1
    return rows[:at] + mine + rows[at:]


def _reorder(rows: list[FeedRow], accession: str) -> list[FeedRow]:
    mine = [row for row in rows if row.accession == accession]
    rest = [row for row in rows if row.accession != accession]
    if not mine:
        return rows
    first = rows.index(mine[0])
    after = rows[first:]
    following = next((row.accession for row in after if row.accession != accession), None)
    if following is None:
        return rows
    last_of_next = max(i for i, row in enumerate(rest) if row.accession == following)
    return rest[: last_of_next + 1] + mine + rest[last_of_next + 1 :]


_QUIRKS = {QuirkKind.DROP: _drop, QuirkKind.REPEAT: _repeat, QuirkKind.REORDER: _reorder}

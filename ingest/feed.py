"""EDGAR's latest-filings Atom feed: what was accepted in the last minutes, for ``watch``.

Two layers, like ``ingest/discover.py``:

* a pure parser (bytes in, entries out; no I/O): :func:`parse_feed`, and :func:`group_filings`
  which turns entries (one per filer) into filings (one per accession);
* :class:`FeedPoller`, thin, over a fetcher (``get(url_or_path) -> bytes``, the project's
  :class:`ingest.fetch.EdgarClient`): pages back through the feed and returns the ownership
  filings it has not returned before, as :class:`~ingest.discover.IndexEntry` rows the work
  queue takes.

The feed (``/cgi-bin/browse-edgar?action=getcurrent&type=4&owner=include&count=100&start=0
&output=atom``), as EDGAR served it on 12 Dec 2025 (52 consecutive pages in
``tests/fixtures/feeds/``, see its README.md):

* Atom 1.0 in the default namespace, declared ISO-8859-1. Each ``entry`` is one filing under one
  filer: ``title`` "FORM - NAME (CIK) (Role)" (Role: Reporting, Issuer, Filer, Subject, Filed
  by), ``summary`` (HTML, escaped) "Filed: YYYY-MM-DD AccNo: ... Size: N KB", ``updated`` = the
  acceptance time, US Eastern with its offset, ``category term`` = form type, ``id``
  ``urn:tag:sec.gov,2008:accession-number=...``, ``link`` to the filing's index page.
* A filing appears once per filer (a Form 4 with eight owners: nine entries); entries are
  ordered newest first, then by CIK descending, so one filing's entries can interleave with
  another's accepted in the same second. Some filings list the same filer twice.
* ``type=`` is a prefix: ``type=4`` also lists 424B2, 40-APP/A, 485BXT, 497K... (a third of the
  entries), so forms are filtered here, on the project's one list (``OWNERSHIP_FORMS``).
* Pages are read while EDGAR keeps accepting: a filing accepted between two page requests
  pushes every entry down, so the last entries of page N come again at the top of page N + 1
  (seen three times in the 52 pages).
* Past the last page EDGAR answers HTTP 503 with its "temporarily unavailable" maintenance page,
  not an empty feed: the same answer as a real outage.

How the poller pages (per ``type=`` prefix, :data:`FEED_TYPES`): it reads pages until it has
read past its *floor*, the acceptance time down to which the feed must be read: the newest
acceptance time seen by the previous complete poll minus ``overlap``. The overlap catches a
filing that shows up late in the feed with an earlier acceptance time than entries already
read (EDGAR publishes within about a minute of acceptance) or that a previous response left
out. Before its first complete poll the poller has no floor: it reads until it meets a filing
the caller already knows (``known``), and the overlap below that. It also stops at a short
page, at ``max_pages``, and at a page that fails twice in a row at the same ``start=`` (the
503 past the end, which cannot be told from an outage the first time). A poll that stops at a
failed page is incomplete: it returns what it read, keeps its floor, and the next poll reads
down to the same floor again; nothing is lost, some pages are read twice.

The fetcher's own retries come first: :class:`~ingest.fetch.EdgarClient` retries a 503 up to
``RetryPolicy.max_attempts`` times with backoff (8 attempts, about two minutes, by default)
before the poller sees it fail. Past the end of the feed that is wasted time and requests, so
the client that polls should have a short policy (two or three attempts): a page that is
still down is read again at the next poll anyway.

What a poll costs (requests): one page per prefix while fewer than a page of entries arrived
since the floor, so 3 requests for ``FEED_TYPES`` = 3, 4, 5. A poll every 60 s with the
3-minute overlap reads about 4 minutes of entries; replayed over the real acceptance times of
the capture, the ``type=4`` feed needed one page in 959 of the 960 minutes of 11 Dec
(06:00-22:00 ET) and 713 of 720 on 12 Dec (06:00-18:00), two pages otherwise (at most 86
entries in one minute, around 16:00). So 3 requests a poll, 4 at the busiest minutes
(``benchmarks/bench_watch.py`` measures it on a simulated day). Forms 3 and 5 are far rarer (a
quarter had 2,953 Forms 3/3A and 72 Forms 5/5A against 33,050 Forms 4/4A: SEC's Form 345 data
set, 2024Q3), one page each.

Example::

    poller = FeedPoller(client, known=lambda accessions: known_accessions(conn, accessions))
    result = poller.poll()
    enqueue(conn, result.entries, origin="watch")
"""

from __future__ import annotations

import collections
import logging
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from lxml import etree

from ingest.discover import OWNERSHIP_FORMS, IndexEntry
from ingest.fetch import EdgarAccessDenied, FetchError
from ingest.records import ACCESSION_RE

log = logging.getLogger(__name__)

FEED_PATH = "/cgi-bin/browse-edgar"
PAGE_SIZE = 100  # the largest ``count`` EDGAR serves (10, 20, 40, 80, 100)
# ``type=`` is a prefix filter, so these prefixes cover every ownership form and amendment.
FEED_TYPES: tuple[str, ...] = tuple(sorted({form.split("/")[0] for form in OWNERSHIP_FORMS}))
ROLE_ISSUER = "Issuer"

_ATOM = "{http://www.w3.org/2005/Atom}"
_TITLE = re.compile(r"^(?P<form>.+?) - (?P<name>.*) \((?P<cik>[0-9]{1,10})\) \((?P<role>[^()]+)\)$")
_ID = re.compile(r"accession-number=([0-9]{10}-[0-9]{2}-[0-9]{6})$")
_SUMMARY_FILED = re.compile(r"Filed:\s*([0-9]{4}-[0-9]{2}-[0-9]{2})")
_SUMMARY_ACCESSION = re.compile(r"AccNo:\s*([0-9]{10}-[0-9]{2}-[0-9]{6})")
_SUMMARY_SIZE = re.compile(r"Size:\s*([0-9]+ [KMG]?B)")
_TAG = re.compile(r"<[^>]*>")


def feed_url(form_prefix: str, start: int = 0, count: int = PAGE_SIZE) -> str:
    """The feed page's path, for the fetcher (``EdgarClient.get`` sends it to www.sec.gov)."""
    return (
        f"{FEED_PATH}?action=getcurrent&type={form_prefix}&owner=include"
        f"&count={count}&start={start}&output=atom"
    )


# --------------------------------------------------------------------------- parser


class FeedFormatError(ValueError):
    """The bytes are not an Atom feed (EDGAR's 503 maintenance page, a block page, nothing)."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One ``entry``: a filing as listed under one filer."""

    accession_number: str
    form_type: str  # category term, exactly as EDGAR writes it ("4", "4/A", "424B2")
    filed_date: date
    accepted_at: datetime  # ``updated``: acceptance time, tz-aware (US Eastern offset)
    cik: int
    name: str
    role: str  # "Reporting", "Issuer", "Filer", "Subject", "Filed by"
    index_url: str  # the filing's ``-index.htm`` page under this filer's folder
    size: str  # "10 KB", as the summary gives it


@dataclass(frozen=True, slots=True)
class BadEntry:
    """An entry that was skipped, with why."""

    position: int  # 0-based among the page's entries
    text: str  # the entry's title (or id), for the log
    reason: str


@dataclass(slots=True)
class FeedPage:
    """What :func:`parse_feed` read from one page."""

    title: str
    updated: datetime | None
    entries: list[FeedEntry] = field(default_factory=list)
    bad_entries: list[BadEntry] = field(default_factory=list)
    entry_count: int = 0  # entries on the page, bad ones included (a short page is the last)


class _BadEntryError(ValueError):
    """Internal: one entry is malformed; the message is the reason."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
        remove_comments=True, remove_pis=True,
    )


def parse_feed(data: bytes) -> FeedPage:
    """Entries of one feed page, in feed order. Raises :class:`FeedFormatError` when the
    bytes are not an Atom feed; a malformed entry is skipped and listed in ``bad_entries``."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise FeedFormatError(f"not an Atom feed: {exc}") from exc
    if root.tag != f"{_ATOM}feed":
        raise FeedFormatError(f"not an Atom feed: root element {root.tag!r}")
    page = FeedPage(title=_text(root, "title"), updated=_optional_time(_text(root, "updated")))
    for position, element in enumerate(root.iterfind(f"{_ATOM}entry")):
        page.entry_count += 1
        try:
            page.entries.append(_entry(element))
        except _BadEntryError as exc:
            label = _text(element, "title") or _text(element, "id")
            page.bad_entries.append(BadEntry(position, label[:200], str(exc)))
    return page


def _text(element: etree._Element, tag: str) -> str:
    child = element.find(f"{_ATOM}{tag}")
    return (child.text or "").strip() if child is not None else ""


def _optional_time(text: str) -> datetime | None:
    try:
        return _aware_time(text)
    except _BadEntryError:
        return None


def _aware_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _BadEntryError(f"updated is not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None:
        raise _BadEntryError(f"updated has no UTC offset: {text!r}")
    return moment


def _entry(element: etree._Element) -> FeedEntry:
    title = _TITLE.match(_text(element, "title"))
    if title is None:
        raise _BadEntryError("title is not 'FORM - NAME (CIK) (Role)'")
    summary = _TAG.sub("", _text(element, "summary"))
    accession = _accession(_text(element, "id"), summary)
    filed = _SUMMARY_FILED.search(summary)
    if filed is None:
        raise _BadEntryError("summary has no 'Filed:' date")
    category = element.find(f"{_ATOM}category")
    form_type = (category.get("term") or "").strip() if category is not None else ""
    link = element.find(f"{_ATOM}link")
    size = _SUMMARY_SIZE.search(summary)
    try:
        filed_date = date.fromisoformat(filed.group(1))
    except ValueError as exc:
        raise _BadEntryError(f"filed date {filed.group(1)!r} is not a date") from exc
    return FeedEntry(
        accession_number=accession,
        form_type=form_type or title.group("form").strip(),
        filed_date=filed_date,
        accepted_at=_aware_time(_text(element, "updated")),
        cik=int(title.group("cik")),
        name=title.group("name").strip(),
        role=title.group("role").strip(),
        index_url=(link.get("href") or "") if link is not None else "",
        size=size.group(1) if size else "",
    )


def _accession(entry_id: str, summary: str) -> str:
    """From the id urn, checked against the summary's AccNo when both are there."""
    by_id = _ID.search(entry_id)
    by_summary = _SUMMARY_ACCESSION.search(summary)
    if by_id and by_summary and by_id.group(1) != by_summary.group(1):
        raise _BadEntryError(f"id {by_id.group(1)} and AccNo {by_summary.group(1)} disagree")
    found = by_id or by_summary
    if found is None or not ACCESSION_RE.match(found.group(1)):
        raise _BadEntryError("no accession number in id or summary")
    return found.group(1)


# --------------------------------------------------------------------------- filings


@dataclass(frozen=True, slots=True)
class FeedFiler:
    cik: int
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class FeedFiling:
    """One filing, its feed entries merged: every filer seen, in feed order."""

    accession_number: str
    form_type: str
    filed_date: date
    accepted_at: datetime
    filers: tuple[FeedFiler, ...]

    def index_entry(self) -> IndexEntry:
        """The work-queue row: the full submission under the issuer's folder (any filer's
        folder serves it; the issuer's is the one every index lists)."""
        filer = next((f for f in self.filers if f.role == ROLE_ISSUER), self.filers[0])
        return IndexEntry(
            accession_number=self.accession_number,
            form_type=self.form_type,
            cik=filer.cik,
            company_name=filer.name,
            filed_date=self.filed_date,
            path=f"/Archives/edgar/data/{filer.cik}/{self.accession_number}.txt",
        )


def group_filings(
    entries: Iterable[FeedEntry], forms: Collection[str] | None = OWNERSHIP_FORMS
) -> list[FeedFiling]:
    """One filing per accession (of ``forms``; None: every form), in order of first entry."""
    firsts: dict[str, FeedEntry] = {}
    filers: dict[str, dict[tuple[int, str], FeedFiler]] = {}
    for entry in entries:
        if forms is not None and entry.form_type not in forms:
            continue
        firsts.setdefault(entry.accession_number, entry)
        seen = filers.setdefault(entry.accession_number, {})
        seen.setdefault((entry.cik, entry.role), FeedFiler(entry.cik, entry.name, entry.role))
    return [
        FeedFiling(
            accession_number=accession,
            form_type=first.form_type,
            filed_date=first.filed_date,
            accepted_at=first.accepted_at,
            filers=tuple(filers[accession].values()),
        )
        for accession, first in firsts.items()
    ]


# --------------------------------------------------------------------------- poller


class Fetcher(Protocol):
    def get(self, url_or_path: str) -> bytes: ...


# Of these accession numbers, the ones the caller already has (loaded or queued).
Known = Callable[[Sequence[str]], Collection[str]]


@dataclass(slots=True)
class PollResult:
    """What one :meth:`FeedPoller.poll` found."""

    filings: list[FeedFiling] = field(default_factory=list)  # new ownership filings, feed order
    requests: int = 0  # feed pages asked for (the fetcher's own retries not counted)
    pages: dict[str, int] = field(default_factory=dict)  # pages read per type= prefix
    complete: bool = True  # every prefix read down to its floor or the end of the feed
    errors: list[str] = field(default_factory=list)  # why a prefix stopped early
    newest: datetime | None = None  # the newest acceptance time the feed showed (any form)

    @property
    def entries(self) -> list[IndexEntry]:
        """The new filings as work-queue rows (``ingest.workqueue.enqueue`` takes them)."""
        return [filing.index_entry() for filing in self.filings]


@dataclass(slots=True)
class _Chain:
    """Paging state of one ``type=`` prefix between polls."""

    form_prefix: str
    floor: datetime | None = None  # read back at least to this acceptance time
    failed_start: int | None = None  # start= of the page the previous poll could not read


@dataclass(slots=True)
class _ChainPoll:
    """One prefix, one poll: where the paging stands."""

    floor: datetime | None
    newest: datetime | None = None
    start: int = 0
    pages: int = 0


class FeedPoller:
    """Polls the feed for new ownership filings; keep one for the life of a ``watch``.

    ``known``: called once per page with that page's ownership accessions this poller has not
    returned yet; returns those the caller already has. They are not returned again, and
    before the first complete poll the newest of them sets where paging stops.

    ``overlap``: how far below the previous poll's newest acceptance time every poll reads
    again (late or missing entries). ``max_pages``: most pages one prefix reads in one poll;
    older filings are left to the nightly ``sync`` (the 12 Dec 2025 ``type=4`` feed had 51).
    ``remember``: how many returned accessions are kept to drop repeats (memory stays flat).
    """

    def __init__(
        self,
        fetcher: Fetcher,
        known: Known,
        *,
        types: Sequence[str] = FEED_TYPES,
        overlap: timedelta = timedelta(minutes=3),
        max_pages: int = 60,
        count: int = PAGE_SIZE,
        remember: int = 20_000,
    ) -> None:
        if max_pages < 1 or count < 1:
            raise ValueError("max_pages and count must be positive")
        self._fetcher = fetcher
        self._known = known
        self._chains = [_Chain(prefix) for prefix in types]
        self.overlap = overlap
        self.max_pages = max_pages
        self.count = count
        self._returned: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._remember = remember

    def poll(self) -> PollResult:
        """One round: every prefix, newest first, down to its floor. Never raises for a
        network or format error (the poll is then incomplete); a refused User-Agent
        (:class:`~ingest.fetch.EdgarAccessDenied`) and the ``known`` callback's errors propagate."""
        result = PollResult()
        for chain in self._chains:
            self._poll_chain(chain, result)
        return result

    def _poll_chain(self, chain: _Chain, result: PollResult) -> None:
        state = _ChainPoll(floor=chain.floor)
        failure: Exception | None = None
        while state.pages < self.max_pages:
            url = feed_url(chain.form_prefix, state.start, self.count)
            result.requests += 1
            try:
                page = parse_feed(self._fetcher.get(url))
            except EdgarAccessDenied:
                raise
            except (FetchError, FeedFormatError) as exc:
                failure = exc
                break
            state.pages += 1
            if self._read_page(page, state, result):
                break
            state.start += self.count
        else:
            log.warning("feed type=%s: more than %d pages since the last poll; the nightly sync "
                        "brings in the older filings", chain.form_prefix, self.max_pages)
        result.pages[chain.form_prefix] = state.pages
        if state.newest is not None and (result.newest is None or state.newest > result.newest):
            result.newest = state.newest
        if failure is not None and state.start != chain.failed_start:
            # An outage, or the 503 past the end: the next poll reads down to the same floor
            # and tells them apart (the same page failing again is the end).
            chain.failed_start = state.start
            chain.floor = state.floor
            result.complete = False
            result.errors.append(f"type={chain.form_prefix} start={state.start}: {failure}")
            log.info("feed type=%s start=%d unreadable (%s); the next poll reads it again",
                     chain.form_prefix, state.start, failure)
            return
        if failure is None:
            chain.failed_start = None
        chain.floor = state.newest - self.overlap if state.newest is not None else state.floor

    def _read_page(self, page: FeedPage, state: _ChainPoll, result: PollResult) -> bool:
        """Take the page's new filings; True when paging can stop here."""
        if page.bad_entries:
            first = page.bad_entries[0]
            log.warning("feed: skipped %d malformed entr(ies); first at %d (%s): %r",
                        len(page.bad_entries), first.position, first.reason, first.text)
        if page.entries:
            newest = max(entry.accepted_at for entry in page.entries)
            state.newest = newest if state.newest is None else max(state.newest, newest)
        fresh = [f for f in group_filings(page.entries) if f.accession_number not in self._returned]
        known = set(self._known([f.accession_number for f in fresh])) if fresh else set()
        if state.floor is None and known:
            newest_known = max(f.accepted_at for f in fresh if f.accession_number in known)
            state.floor = newest_known - self.overlap
        for filing in fresh:
            if filing.accession_number not in known:
                self._remember_returned(filing.accession_number)
                result.filings.append(filing)
        if page.entry_count < self.count:
            return True  # a short page is the last one
        oldest = min((entry.accepted_at for entry in page.entries), default=None)
        return state.floor is not None and oldest is not None and oldest < state.floor

    def _remember_returned(self, accession: str) -> None:
        self._returned[accession] = None
        if len(self._returned) > self._remember:
            self._returned.popitem(last=False)


__all__ = [
    "FEED_PATH",
    "FEED_TYPES",
    "PAGE_SIZE",
    "BadEntry",
    "FeedEntry",
    "FeedFiler",
    "FeedFiling",
    "FeedFormatError",
    "FeedPage",
    "FeedPoller",
    "Fetcher",
    "Known",
    "PollResult",
    "feed_url",
    "group_filings",
    "parse_feed",
]

"""Analyst views (migrations 0003, 0009) and the read-only role (ingest.analyst).

The whole corpus (tests/fixtures/submissions, ownership and analyst) is loaded once into a
module database; the transaction counts the views must show are computed independently from
the XML with lxml, and the amendment rules of docs/queries.md (link, then line by line) are
re-implemented here in plain Python.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from click.testing import CliRunner
from lxml import etree
from psycopg import sql
from sqlalchemy.engine import make_url

from ingest import db
from ingest.analyst import (
    InvalidRoleName,
    UnsuitableRole,
    grant_reader,
    grant_reader_command,
    validate_role_name,
)
from ingest.load import Loader
from ingest.parse import accession_from_name, parse_file
from ingest.records import (
    HeaderFiler,
    OwnershipDocument,
    ParsedFiling,
    ParseError,
    SubmissionHeader,
)

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS_DIRS = ("submissions", "ownership", "analyst")
FILING_SUFFIXES = (".txt", ".sgml", ".nc", ".xml")

SEC_CODES = set("PSVADFIMCEHOXGLWZJKU")
NEW_YORK = ZoneInfo("America/New_York")


# ---------------------------------------------------------------------------
# The corpus, read independently of the ingest parser
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusLine:
    """A transaction line: where it is, its key (docs/queries.md, Amendments) and amounts."""

    table: str
    sequence: int
    key: tuple
    shares: Decimal | None
    price: Decimal | None


@dataclass
class CorpusFiling:
    """What this test needs to know about one loaded filing, read with lxml and regexes."""

    accession: str
    is_submission: bool
    document_type: str | None = None
    issuer_cik: int | None = None
    owner_ciks: frozenset[int] = frozenset()
    period: date | None = None
    original_submission: date | None = None
    filed: date | None = None
    accepted: datetime | None = None
    transactions: Counter = field(default_factory=Counter)  # table -> element count
    lines: list[CorpusLine] = field(default_factory=list)  # transaction lines, document order

    @property
    def n_transactions(self) -> int:
        return sum(self.transactions.values())

    @property
    def is_amendment(self) -> bool:
        return bool(self.document_type and self.document_type.endswith("/A"))

    @property
    def version_key(self) -> tuple:
        return (self.filed or date.min, self.accepted or datetime.min, self.accession)


def corpus_files() -> list[Path]:
    files: list[Path] = []
    for folder in CORPUS_DIRS:
        files += sorted(p for p in (FIXTURES / folder).iterdir() if p.suffix in FILING_SUFFIXES)
    return files


def synthetic_accessions(files: list[Path]) -> dict[Path, str]:
    """Bare XMLs without an accession in their name: 9999999999-99-NNNNNN, in name order."""
    nameless = sorted(
        (p for p in files if p.suffix == ".xml" and accession_from_name(p.name) is None),
        key=lambda p: p.name,
    )
    return {p: f"9999999999-99-{i:06d}" for i, p in enumerate(nameless, 1)}


_XML_BLOCK = re.compile(rb"<XML>\s*(.*?)\s*</XML>", re.S | re.I)


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _text(root: etree._Element, path: str) -> str | None:
    """First text under a path of local names, descending through <value> wrappers."""
    node = root
    for step in path.split("/"):
        node = next((c for c in node if _local(c.tag) == step), None)
        if node is None:
            return None
    value = next((c for c in node if _local(c.tag) == "value"), None)
    text = (value if value is not None else node).text
    return text.strip() if text and text.strip() else None


def read_corpus_filing(path: Path, accession: str) -> CorpusFiling:
    raw = path.read_bytes()
    is_submission = path.suffix != ".xml"
    filing = CorpusFiling(accession=accession, is_submission=is_submission)
    if is_submission:
        filed = re.search(rb"FILED AS OF DATE:\s*(\d{8})", raw)
        if filed:
            filing.filed = datetime.strptime(filed.group(1).decode(), "%Y%m%d").date()
        accepted = re.search(rb"<ACCEPTANCE-DATETIME>(\d{14})", raw)
        if accepted:
            filing.accepted = datetime.strptime(accepted.group(1).decode(), "%Y%m%d%H%M%S")
        block = _XML_BLOCK.search(raw)
        xml = block.group(1) if block else None
    else:
        xml = raw
    if not xml:
        return filing
    # some real filings put whitespace (or a byte order mark) before the XML declaration
    xml = xml.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    root = etree.fromstring(xml, etree.XMLParser(huge_tree=True, remove_comments=True))
    filing.document_type = _text(root, "documentType")
    cik = _text(root, "issuer/issuerCik")
    filing.issuer_cik = int(cik) if cik else None
    filing.owner_ciks = frozenset(
        int(c.text) for c in root.iter() if _local(c.tag) == "rptOwnerCik" and c.text
    )
    for attr, tag in (("period", "periodOfReport"), ("original_submission", "dateOfOriginalSubmission")):
        value = _text(root, tag)
        setattr(filing, attr, date.fromisoformat(value[:10]) if value else None)
    tables = {"nonDerivativeTransaction": "non_derivative_transactions",
              "derivativeTransaction": "derivative_transactions"}
    for element in root.iter():
        table = tables.get(_local(element.tag))
        if table is None:
            continue
        filing.transactions[table] += 1
        filing.lines.append(_corpus_line(element, table, filing.transactions[table]))
    return filing


def _number(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except ArithmeticError:
        return None


def _corpus_line(element: etree._Element, table: str, sequence: int) -> CorpusLine:
    title = _text(element, "securityTitle")
    day = _text(element, "transactionDate")
    key = (
        table,
        " ".join(title.split()).lower() if title else None,
        day[:10] if day else None,
        _text(element, "transactionCoding/transactionCode"),
        _text(element, "ownershipNature/directOrIndirectOwnership"),
    )
    price = _text(element, "transactionAmounts/transactionPricePerShare") or _text(
        element, "transactionAmounts/transactionValue"
    )
    return CorpusLine(table, sequence, key,
                      _number(_text(element, "transactionAmounts/transactionShares")),
                      _number(price))


def loaded_versions(files: list[Path], synthetic: dict[Path, str]) -> dict[str, CorpusFiling]:
    """The filing stored per accession: a submission beats a bare XML, else the last copy."""
    kept: dict[str, CorpusFiling] = {}
    for path in files:
        accession = synthetic.get(path) or _accession_of(path)
        if accession is None:
            continue
        candidate = read_corpus_filing(path, accession)
        previous = kept.get(accession)
        if previous is None or candidate.is_submission or not previous.is_submission:
            kept[accession] = candidate
    return kept


def _accession_of(path: Path) -> str | None:
    head = path.read_bytes()[:4000]
    match = re.search(rb"ACCESSION NUMBER:\s*(\d{10}-\d{2}-\d{6})", head)
    if match:
        return match.group(1).decode()
    return accession_from_name(path.name)


def expected_links(filings: dict[str, CorpusFiling]) -> dict[str, str]:
    """The documented link rule, re-implemented: amendment -> the filing it amends."""

    def base(form: str | None) -> str | None:
        return form[:-2] if form and form.endswith("/A") else form

    def before(o: CorpusFiling, a: CorpusFiling) -> bool:
        if o.filed is None or a.filed is None:
            return True
        if o.filed != a.filed:
            return o.filed < a.filed
        return o.accepted is None or a.accepted is None or o.accepted < a.accepted

    def score(a: CorpusFiling, o: CorpusFiling, confirm: bool) -> int:
        def matches(line: CorpusLine, other: CorpusLine) -> bool:
            return line.key == other.key and (
                not confirm or line.shares == other.shares or line.price == other.price)

        return sum(any(matches(line, other) for other in o.lines) for line in a.lines)

    links: dict[str, str] = {}
    for a in filings.values():
        if not a.is_amendment:
            continue
        candidates = [
            o for o in filings.values()
            if o.accession != a.accession and o.document_type and not o.is_amendment
            and base(o.document_type) == base(a.document_type) and o.issuer_cik == a.issuer_cik
            and o.owner_ciks & a.owner_ciks and before(o, a)
        ]
        by_date = [o for o in candidates if a.original_submission and o.filed == a.original_submission]
        if by_date:
            ranked = [((score(a, o, False), o.owner_ciks == a.owner_ciks, o.period == a.period), o)
                      for o in by_date]
        else:
            ranked = [((score(a, o, True), o.owner_ciks == a.owner_ciks, o.period == a.period), o)
                      for o in candidates if a.period and o.period == a.period]
            ranked = [(rank, o) for rank, o in ranked if rank[0] > 0]
        if not ranked:
            continue
        best = max(rank for rank, _ in ranked)
        tied = [o for rank, o in ranked if rank == best]
        if len(tied) == 1:
            links[a.accession] = tied[0].accession
    return links


def expected_superseded(filings: dict[str, CorpusFiling]) -> dict[tuple, tuple]:
    """The documented line rule, re-implemented: (accession, table, sequence) of each
    superseded line -> (accession, table, sequence) of the line that replaces it."""
    families: dict[str, list[CorpusFiling]] = defaultdict(list)
    for amendment, original in expected_links(filings).items():
        families[original].append(filings[amendment])
    superseded: dict[tuple, tuple] = {}
    for original, amendments in families.items():
        versions = [filings[original], *sorted(amendments, key=lambda f: f.version_key)]
        keys = {line.key for version in versions for line in version.lines}
        for key in keys:
            # (version, its lines of this key) for versions that have some, in filing order
            with_key = [(v, [ln for ln in v.lines if ln.key == key]) for v in versions]
            with_key = [(v, lines) for v, lines in with_key if lines]
            segment: list[tuple[CorpusFiling, list[CorpusLine]]] = []
            for version, lines in [*with_key, (None, [])]:
                if segment and len(lines) == len(segment[-1][1]):
                    segment.append((version, lines))
                    continue
                last, last_lines = segment[-1] if segment else (None, [])
                for earlier, earlier_lines in segment[:-1]:
                    for line, replacement in zip(earlier_lines, last_lines, strict=True):
                        superseded[(earlier.accession, line.table, line.sequence)] = (
                            last.accession, replacement.table, replacement.sequence)
                segment = [(version, lines)]
    return superseded


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


def _admin(server_url: str) -> psycopg.Connection:
    return psycopg.connect(db.libpq_conninfo(server_url), autocommit=True)


@pytest.fixture(scope="module")
def corpus_url(server_url: str, template_database: str) -> Iterator[str]:
    """A module database holding the whole corpus."""
    name = f"edgar_test_analyst_{uuid.uuid4().hex[:10]}"
    with _admin(server_url) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_database)
            )
        )
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        files = corpus_files()
        synthetic = synthetic_accessions(files)
        parsed = []
        for path in files:
            try:
                parsed.append(parse_file(path.read_bytes(), path.name, synthetic.get(path)))
            except ParseError:
                continue  # not an ownership filing at all: nothing to count either
        with db.connect(url, autocommit=True) as conn:
            results = Loader(conn).load(parsed)
            assert not [r for r in results if r.status == "failed"], results
        yield url
    finally:
        db.dispose_engines()
        with _admin(server_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def conn(corpus_url: str) -> Iterator[psycopg.Connection]:
    connection = db.connect(corpus_url, autocommit=True)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture(scope="module")
def corpus() -> dict[str, CorpusFiling]:
    files = corpus_files()
    return loaded_versions(files, synthetic_accessions(files))


def _drop_role(conn: psycopg.Connection, role: str) -> None:
    conn.execute("RESET ROLE")
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
        ident = sql.Identifier(role)
        conn.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(ident))
        conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
        conn.execute(sql.SQL("DROP ROLE {}").format(ident))


@pytest.fixture
def reader_role(conn: psycopg.Connection) -> Iterator[str]:
    """A unique role name, dropped after the test (roles are cluster-wide)."""
    role = f"edgar_test_reader_{uuid.uuid4().hex[:12]}"
    try:
        yield role
    finally:
        _drop_role(conn, role)


# ---------------------------------------------------------------------------
# transaction_codes
# ---------------------------------------------------------------------------


def test_transaction_codes_are_complete_and_correct(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT code, meaning, category, is_open_market, in_xml, derived_from FROM transaction_codes"
    ).fetchall()
    codes = {r[0]: r for r in rows}
    assert set(codes) == SEC_CODES
    meaning = {c: r[1] for c, r in codes.items()}
    # I and W are not swapped (https://github.com/daniel3303/Equibles/pull/2240)
    assert meaning["I"].startswith("Discretionary transaction") and "16b-3(f)" in meaning["I"]
    assert "will or the laws of descent and distribution" in meaning["W"]
    assert "will" not in meaning["I"].lower() and "discretionary" not in meaning["W"].lower()
    # V is early voluntary reporting, not a 10b5-1 marker; K is an equity swap; both derived
    assert meaning["V"].startswith("Transaction voluntarily reported earlier than required")
    assert "transactionTimeliness = 'E'" in meaning["V"]
    assert meaning["K"].startswith("Transaction in equity swap")
    assert "equitySwapInvolved" in meaning["K"]
    assert {c for c, r in codes.items() if not r[4]} == {"K", "V"}
    assert codes["K"][5] == "equity_swap_involved = true"
    assert codes["V"][5] == "transaction_timeliness = 'E'"
    assert {c for c, r in codes.items() if r[3]} == {"P", "S"}
    expected = {
        "A": "Grant, award or other acquisition pursuant to Rule 16b-3(d)",
        "D": "Disposition to the issuer of issuer equity securities pursuant to Rule 16b-3(e)",
        "M": "Exercise or conversion of derivative security exempted pursuant to Rule 16b-3",
        "C": "Conversion of derivative security",
        "E": "Expiration of short derivative position",
        "H": "Expiration (or cancellation) of long derivative position with value received",
        "O": "Exercise of out-of-the-money derivative security",
        "X": "Exercise of in-the-money or at-the-money derivative security",
        "G": "Bona fide gift",
        "L": "Small acquisition under Rule 16a-6",
        "Z": "Deposit into or withdrawal from voting trust",
        "J": "Other acquisition or disposition (describe transaction)",
        "U": "Disposition pursuant to a tender of shares in a change of control transaction",
    }
    for code, text in expected.items():
        assert meaning[code] == text, code
    assert meaning["F"].startswith("Payment of exercise price or tax liability")
    assert {r[2] for r in rows} == {"general", "rule_16b3", "derivative", "exempt_16b", "other"}


def test_every_code_in_the_corpus_has_a_meaning(conn: psycopg.Connection) -> None:
    missing = conn.execute(
        "SELECT DISTINCT transaction_code FROM insider_trades_all "
        "WHERE transaction_code IS NOT NULL AND code_meaning IS NULL"
    ).fetchall()
    assert missing == []


# ---------------------------------------------------------------------------
# insider_trades: one row per transaction entry
# ---------------------------------------------------------------------------


def _rows_per_accession(conn: psycopg.Connection, view: str) -> dict[str, Counter]:
    out: dict[str, Counter] = defaultdict(Counter)
    for acc, table, n in conn.execute(
        sql.SQL("SELECT accession_number, table_name, count(*) FROM {} GROUP BY 1, 2").format(
            sql.Identifier(view)
        )
    ):
        out[acc][table] = n
    return out


def test_insider_trades_all_has_one_row_per_transaction_element(
    conn: psycopg.Connection, corpus: dict[str, CorpusFiling]
) -> None:
    expected = {acc: f.transactions for acc, f in corpus.items() if f.n_transactions}
    assert sum(f.n_transactions for f in corpus.values()) > 500  # the corpus, not a sample
    assert _rows_per_accession(conn, "insider_trades_all") == expected
    dupes = conn.execute(
        "SELECT accession_number, table_name, sequence FROM insider_trades_all "
        "GROUP BY 1, 2, 3 HAVING count(*) > 1"
    ).fetchall()
    assert dupes == []


def test_insider_trades_leaves_out_exactly_the_superseded_rows(
    conn: psycopg.Connection, corpus: dict[str, CorpusFiling]
) -> None:
    superseded = expected_superseded(corpus)
    # the corpus exercises the rules: a chain of two amendments, a period-of-report match,
    # a holdings-only amendment (supersedes nothing) and an unlinked amendment
    assert expected_links(corpus) == {
        "9999999999-23-000201": "0001562180-23-004583",
        "9999999999-23-000301": "0001225208-23-007249",
        "9999999999-25-000101": "0001127602-25-001055",
        "9999999999-25-000102": "0001127602-25-001055",
    }
    assert {(acc, by) for (acc, _, _), (by, _, _) in superseded.items()} == {
        ("0001127602-25-001055", "9999999999-25-000102"),
        ("9999999999-25-000101", "9999999999-25-000102"),
        ("0001225208-23-007249", "9999999999-23-000301"),
    }
    stored = {
        (acc, table, seq): (by, table, by_seq)
        for acc, table, seq, by, by_seq in conn.execute(
            "SELECT accession_number, table_name, sequence, superseded_by, superseded_by_sequence "
            "FROM amended_lines WHERE status = 'superseded'"
        )
    }
    assert stored == superseded
    flagged = {
        (acc, table, seq): by
        for acc, table, seq, by in conn.execute(
            "SELECT accession_number, table_name, sequence, superseded_by FROM insider_trades_all "
            "WHERE is_superseded"
        )
    }
    assert flagged == {line: by for line, (by, _, _) in superseded.items()}
    expected: dict[str, Counter] = defaultdict(Counter)
    for filing in corpus.values():
        for line in filing.lines:
            if (filing.accession, line.table, line.sequence) not in superseded:
                expected[filing.accession][line.table] += 1
    assert _rows_per_accession(conn, "insider_trades") == expected
    total = sum(expected_rows.total() for expected_rows in expected.values())
    assert conn.execute("SELECT count(*) FROM insider_trades").fetchone()[0] == total


def test_joint_filing_with_ten_owners_is_one_set_of_transactions(conn: psycopg.Connection) -> None:
    for accession, transactions in (("0001104659-23-005474", 5), ("0000921895-23-001298", 1)):
        owners = conn.execute(
            "SELECT count(*) FROM filing_owners WHERE accession_number = %s", (accession,)
        ).fetchone()[0]
        assert owners == 10
        rows = conn.execute(
            "SELECT owner_count, cardinality(owner_ciks), cardinality(owner_names), "
            "is_ten_percent_owner FROM insider_trades WHERE accession_number = %s",
            (accession,),
        ).fetchall()
        assert len(rows) == transactions
        assert all(r[:3] == (10, 10, 10) for r in rows)
        assert all(r[3] for r in rows)
    value = conn.execute(
        "SELECT sum(value) FROM insider_trades WHERE accession_number = '0001104659-23-005474'"
    ).fetchone()[0]
    # 3 non-derivative sales, counted once: 242734 x 0.6718 + 308013 x 0.6271 + 335393 x 0.6288
    assert value == Decimal("242734") * Decimal("0.6718") + Decimal("308013") * Decimal(
        "0.6271"
    ) + Decimal("335393") * Decimal("0.6288")


def test_view_columns_for_one_row(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "SELECT edgar_url, form_type, filed_date, issuer_cik, issuer_name, issuer_ticker, owners, "
        "relationship, transaction_code, code_meaning, acquired_disposed, shares, price, value, "
        "shares_owned_after, direct_or_indirect, aff10b5_one, footnote_ids, footnotes, "
        "is_amendment, is_superseded, filed_business_days_after "
        "FROM insider_trades WHERE accession_number = '0001562180-23-004583'"
    ).fetchone()
    assert row[0] == (
        "https://www.sec.gov/Archives/edgar/data/723125/000156218023004583/"
        "0001562180-23-004583-index.htm"
    )
    assert row[1:6] == ("4", date(2023, 5, 30), 723125, "MICRON TECHNOLOGY INC", "MU")
    assert row[6] == "Deboer Scott J (1568238)"
    assert row[7] == "Officer (EVP, Technology & Products)"
    assert row[8] == "S" and row[9].startswith("Open market or private sale")
    assert row[10:16] == ("D", Decimal("20000.00"), Decimal("70.00"), Decimal("1400000.0000"),
                          Decimal("188340.00"), "D")
    assert row[16] is True
    assert row[17] == ["F1"] and "10b5-1 trading plan" in row[18][0]
    # Traded Friday 26 May 2023, filed Tuesday 30 May: Monday was Memorial Day.
    assert row[19:] == (False, False, 1)


# ---------------------------------------------------------------------------
# Amendments
# ---------------------------------------------------------------------------


def test_amendment_with_transactions_supersedes_the_original(conn: psycopg.Connection) -> None:
    links = conn.execute(
        "SELECT amendment_accession, original_accession, match_rule, amendment_has_transactions "
        "FROM filing_amendments ORDER BY 1"
    ).fetchall()
    assert links == [
        ("9999999999-23-000201", "0001562180-23-004583", "date_of_original_submission", False),
        ("9999999999-23-000301", "0001225208-23-007249", "period_of_report", True),
        ("9999999999-25-000101", "0001127602-25-001055", "date_of_original_submission", True),
        ("9999999999-25-000102", "0001127602-25-001055", "date_of_original_submission", True),
    ]
    current = conn.execute(
        "SELECT accession_number, shares, price, is_amendment, amends_accession "
        "FROM insider_trades WHERE issuer_cik = 1750"
    ).fetchall()
    assert current == [
        ("9999999999-25-000102", Decimal("1600"), Decimal("66.93"), True, "0001127602-25-001055")
    ]
    as_filed = conn.execute(
        "SELECT accession_number, is_superseded, superseded_by FROM insider_trades_all "
        "WHERE issuer_cik = 1750 ORDER BY filed_date"
    ).fetchall()
    assert as_filed == [
        ("0001127602-25-001055", True, "9999999999-25-000102"),
        ("9999999999-25-000101", True, "9999999999-25-000102"),
        ("9999999999-25-000102", False, None),
    ]
    adp = conn.execute(
        "SELECT accession_number, amendment_match_rule, count(*) FROM insider_trades "
        "WHERE issuer_cik = 8670 AND filed_date >= '2023-07-01' GROUP BY 1, 2"
    ).fetchall()
    assert adp == [("9999999999-23-000301", "period_of_report", 3)]


def test_holdings_only_amendment_hides_nothing(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT accession_number, is_superseded FROM insider_trades_all "
        "WHERE accession_number IN ('0001562180-23-004583', '9999999999-23-000201')"
    ).fetchall()
    assert rows == [("0001562180-23-004583", False)]
    assert conn.execute(
        "SELECT count(*) FROM insider_trades WHERE accession_number = '0001562180-23-004583'"
    ).fetchone()[0] == 1
    holdings = conn.execute(
        "SELECT count(*) FROM non_derivative_holdings WHERE accession_number = '9999999999-23-000201'"
    ).fetchone()[0]
    assert holdings == 1


def test_unlinked_amendment_stays_current(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT is_amendment, amends_accession, is_superseded FROM insider_trades "
        "WHERE accession_number = '0000707549-25-000004'"
    ).fetchall()
    assert rows == [(True, None, False), (True, None, False)]


def _filing(
    accession: str,
    *,
    filed: date,
    period: date,
    document_type: str = "4",
    original_submission: date | None = None,
    owners: tuple[int, ...] = (1462356,),
    issuer: int = 320193,
    transactions: int = 1,
) -> ParsedFiling:
    """A parsed filing as the parser would give it (raw bytes unique per accession)."""
    header = SubmissionHeader(
        accession_number=accession,
        form_type=document_type,
        filed_date=filed,
        accepted_at=datetime(filed.year, filed.month, filed.day, 17, 0, tzinfo=NEW_YORK),
        period=period,
        filers=[HeaderFiler("reporting-owner", cik, f"OWNER {cik}") for cik in owners],
    )
    document = OwnershipDocument(
        filing={
            "document_type": document_type,
            "period_of_report": period,
            "date_of_original_submission": original_submission,
            "issuer_cik": issuer,
            "issuer_name": f"ISSUER {issuer}",
        },
        owners=[{"rpt_owner_cik": cik, "rpt_owner_name": f"OWNER {cik}"} for cik in owners],
        entries={
            "non_derivative_transactions": [
                {"security_title": "Common Stock", "transaction_date": period,
                 "transaction_code": "S", "transaction_shares": Decimal(100 + i),
                 "transaction_price_per_share": Decimal("10"),
                 "transaction_acquired_disposed_code": "D"}
                for i in range(transactions)
            ]
        },
        footnotes=[],
        footnote_refs=[],
        signatures=[],
        unmapped=[],
    )
    return ParsedFiling(accession, "submission", header, document, None,
                        f"<test filing {accession}>".encode())


def test_amendment_rule_details(database_url: str) -> None:
    """Issuer, base form, a shared owner and filing order all have to agree; of several
    originals the one the amendment's lines match, then the one with the same owners; two
    that tie on all of it link nothing; an amendment filed before a filing does not amend it."""
    d = date
    may4, may6, may9 = d(2024, 5, 4), d(2024, 5, 6), d(2024, 5, 9)
    batch = [
        _filing("0000320193-24-000001", filed=may6, period=may4),
        _filing("0000320193-24-000002", filed=may6, period=may4),
        # another owner, same day: never the original of the amendments below
        _filing("0000320193-24-000003", filed=may6, period=may4, owners=(999,)),
        # joint filers sharing an owner: a candidate, behind exactly the same owners
        _filing("0000320193-24-000004", filed=may6, period=may4, owners=(1462356, 999)),
        _filing("0000320193-24-000010", filed=may9, period=may4, document_type="4/A",
                original_submission=may6),
        # different issuer, same owner and dates: not linked
        _filing("0000320193-24-000011", filed=may9, period=may4, document_type="4/A",
                original_submission=may6, issuer=789019),
        # a 5/A does not amend a Form 4
        _filing("0000320193-24-000012", filed=may9, period=may4, document_type="5/A",
                original_submission=may6),
        # amends the joint filing (same two owners, listed in another order)
        _filing("0000320193-24-000013", filed=may9, period=may4, document_type="4/A",
                original_submission=may6, owners=(999, 1462356), transactions=0),
        # filed BEFORE the filings of May 6: amends none of them
        _filing("0000320193-24-000020", filed=d(2024, 5, 1), period=d(2024, 4, 1),
                document_type="4/A", original_submission=may6),
    ]
    with db.connect(database_url, autocommit=True) as conn:
        assert {r.status for r in Loader(conn).load(batch)} == {"loaded"}
        links = {r[0]: r[1:] for r in conn.execute(
            "SELECT amendment_accession, original_accession, match_rule, tied_accessions "
            "FROM amendment_links"
        )}
        # 000001 and 000002: same owner, day, acceptance time and lines: a tie, linked to none
        assert links == {
            "0000320193-24-000010": (None, "ambiguous",
                                     ["0000320193-24-000001", "0000320193-24-000002"]),
            "0000320193-24-000011": (None, None, None),
            "0000320193-24-000012": (None, None, None),
            "0000320193-24-000013": ("0000320193-24-000004", "date_of_original_submission", None),
            "0000320193-24-000020": (None, None, None),
        }
        # nothing superseded: 000010 is not linked, 000013 has no transactions
        assert conn.execute("SELECT count(*) FROM insider_trades_all WHERE is_superseded"
                            ).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM insider_trades").fetchone()[0] == 8


# ---------------------------------------------------------------------------
# Money: a trade's value, derivative prices apart
# ---------------------------------------------------------------------------


def test_value_is_the_trade_value_of_purchases_and_sales_of_the_stock(conn: psycopg.Connection) -> None:
    bad = conn.execute(
        """
        SELECT accession_number, table_name, sequence FROM insider_trades_all
        WHERE (is_derivative AND (value IS NOT NULL OR price IS NOT NULL OR is_open_market))
           OR (NOT is_derivative AND (derivative_value IS NOT NULL OR derivative_price IS NOT NULL))
           OR (is_open_market IS DISTINCT FROM
               (NOT is_derivative AND transaction_code IN ('P', 'S')))
           OR (is_open_market AND value IS DISTINCT FROM shares * price)
           OR (NOT is_open_market AND value IS NOT NULL)
           OR (is_derivative AND derivative_value IS DISTINCT FROM shares * derivative_price)
        """
    ).fetchall()
    assert bad == []
    # exercises (M, X) and withholdings (F) have a price but no trade value
    priced = conn.execute(
        "SELECT count(*) FROM insider_trades_all WHERE NOT is_derivative "
        "AND transaction_code IN ('M', 'X', 'F') AND price > 0"
    ).fetchone()[0]
    assert priced > 5
    derivative_rows = conn.execute(
        "SELECT count(*) FROM insider_trades_all WHERE is_derivative"
    ).fetchone()[0]
    assert derivative_rows > 50
    # never exercise price x underlying shares, also where both are filed and differ
    notional = conn.execute(
        """
        SELECT count(*) FROM insider_trades_all
        WHERE is_derivative AND conversion_or_exercise_price > 0 AND underlying_security_shares > 0
          AND derivative_value IS NOT DISTINCT FROM
              conversion_or_exercise_price * underlying_security_shares
        """
    ).fetchone()[0]
    assert notional == 0
    warrants = conn.execute(
        "SELECT value, derivative_price, derivative_value, conversion_or_exercise_price, "
        "underlying_security_shares FROM insider_trades "
        "WHERE accession_number = '0001104659-23-005474' AND is_derivative AND sequence = 1"
    ).fetchone()
    assert warrants == (None, Decimal("0.0753"), Decimal("800.6649"), Decimal("11.50"),
                        Decimal("10633"))


def test_a_lines_footnotes_are_its_own_and_read_only_when_asked_for(
    conn: psycopg.Connection,
) -> None:
    """Migration 0013: a line's footnote ids are stored with it, so no question reads
    ``footnote_references`` for them; the texts are looked up by key, and a query that asks
    for neither reads no footnote at all."""
    def plan(query: str) -> str:
        return "\n".join(r[0] for r in conn.execute("EXPLAIN " + query))

    both = plan("SELECT footnote_ids, footnotes FROM insider_trades "
                "WHERE accession_number = '0001104659-23-005474'")
    assert "footnote_references" not in both and " on footnotes " in both, both
    neither = plan("SELECT accession_number, value, footnote_mentions_10b5_1 FROM insider_trades "
                   "WHERE accession_number = '0001104659-23-005474'")
    assert " on footnotes " not in neither and "footnote_references" not in neither, neither


def line_footnote_mismatches(conn: psycopg.Connection) -> list[tuple]:
    """Transaction lines whose stored ``footnote_ids`` or ``footnote_mentions_10b5_1`` differ
    from what their ``footnote_references`` and the footnotes' texts say."""
    return conn.execute("""
        SELECT t.accession_number, t.table_name, t.sequence, t.footnote_ids, x.ids,
               t.footnote_mentions_10b5_1, x.mentions
        FROM insider_trades_all t
        LEFT JOIN LATERAL (
            SELECT coalesce(array_agg(DISTINCT r.footnote_id), '{}') AS ids,
                   coalesce(bool_or(fn.text ILIKE '%10b5-1%'), false) AS mentions
            FROM footnote_references r
            LEFT JOIN footnotes fn USING (accession_number, footnote_id)
            WHERE r.accession_number = t.accession_number AND r.table_name = t.table_name
              AND r.sequence = t.sequence) x ON true
        WHERE NOT (t.footnote_ids @> x.ids AND t.footnote_ids <@ x.ids
                   AND cardinality(t.footnote_ids) = cardinality(x.ids))
           OR t.footnote_mentions_10b5_1 <> x.mentions
    """).fetchall()


def test_a_lines_stored_footnotes_are_those_its_references_name(conn: psycopg.Connection) -> None:
    """The loader's ``footnote_ids`` and ``footnote_mentions_10b5_1`` of every line of the real
    filings say what the line's ``footnote_references`` and the footnotes' texts say."""
    assert line_footnote_mismatches(conn) == []
    counts = conn.execute(
        "SELECT count(*) FILTER (WHERE footnote_mentions_10b5_1), "
        "count(*) FILTER (WHERE cardinality(footnote_ids) > 1) FROM insider_trades_all"
    ).fetchone()
    assert counts[0] > 10 and counts[1] > 10  # the test data has both


def test_the_largest_trades_are_read_from_the_value_index(conn: psycopg.Connection) -> None:
    """Migration 0012: ``value`` is computed in the view with the index's own expression, so
    the largest purchases or sales come from the index in order (question 9 at 30 M
    transactions: 4.6 s sorting 12 M sales, 8 ms from the index). The test data is too small
    for the planner to prefer an index on its own: a full sort is ruled out to see that it
    can."""
    query = ("SELECT accession_number, sequence, value FROM insider_trades "
             "WHERE transaction_code = 'S' AND NOT is_derivative "
             "ORDER BY value DESC NULLS LAST, accession_number, sequence LIMIT 3")
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL enable_sort = off")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query))
        assert "ix_non_derivative_transactions_trade_value" in plan, plan
        from_index = conn.execute(query).fetchall()
    assert from_index == conn.execute(query).fetchall()
    assert [row[2] for row in from_index] == sorted((row[2] for row in from_index), reverse=True)


# ---------------------------------------------------------------------------
# business_days_between
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ("2025-01-10", "2025-01-10", 0),  # same day
        ("2025-01-10", "2025-01-13", 1),  # Friday -> Monday
        ("2025-01-10", "2025-01-14", 2),
        ("2025-01-11", "2025-01-13", 1),  # Saturday -> Monday
        ("2025-01-06", "2025-01-20", 9),  # two weeks, ending on Martin Luther King Day
        ("2023-06-30", "2023-07-05", 2),  # Monday 3 July; 4 July is a federal holiday
        ("2023-11-22", "2023-11-27", 2),  # Friday after Thanksgiving, Monday
        ("2021-12-30", "2022-01-03", 1),  # 31 Dec 2021: New Year's Day (a Saturday) observed
        ("2023-07-05", "2023-06-30", -2),
        ("2025-01-14", "2025-01-10", -2),
        ("1903-02-27", "1903-03-02", 1),
    ],
)
def test_business_days_between(conn: psycopg.Connection, start: str, end: str, days: int) -> None:
    got = conn.execute("SELECT business_days_between(%s::date, %s::date)", (start, end)).fetchone()
    assert got[0] == days


def test_business_days_between_matches_a_calendar_walk(conn: psycopg.Connection) -> None:
    # Spans around Christmas, New Year's Day and Martin Luther King Day.
    wrong = conn.execute(
        """
        SELECT a, b FROM generate_series(date '2024-12-20', date '2025-01-25', '1 day') a,
                         generate_series(date '2024-12-20', date '2025-01-25', '1 day') b
        WHERE business_days_between(a::date, b::date) <> sign(b::date - a::date) * (
            SELECT count(*) FROM generate_series(least(a, b) + interval '1 day', greatest(a, b),
                                                 '1 day') d
            WHERE extract(isodow FROM d) < 6
              AND d::date NOT IN (date '2024-12-25', date '2025-01-01', date '2025-01-20'))
        """
    ).fetchall()
    assert wrong == []


def test_business_days_of_a_missing_date_are_null_without_counting(
    conn: psycopg.Connection,
) -> None:
    """Migration 0012: STRICT, so a NULL date is NULL at once. The view asks this of every line
    whose filing has no filed date; evaluating the body for it was two thirds of the server's
    time for one owner's trades in a generated 1 M-transaction database."""
    got = conn.execute(
        "SELECT business_days_between(NULL, date '2025-01-10'), "
        "business_days_between(date '2025-01-10', NULL), business_days_counted(NULL, NULL)"
    ).fetchone()
    assert got == (None, None, None)
    strict = conn.execute(
        "SELECT array_agg(proisstrict) FROM pg_proc "
        "WHERE proname IN ('business_days_between', 'business_days_counted')"
    ).fetchone()[0]
    assert strict == [True, True]


# The federal government's (OPM's) published holiday schedules.
OPM_HOLIDAYS = {
    2021: ["2021-01-01", "2021-01-18", "2021-02-15", "2021-05-31", "2021-06-18", "2021-07-05",
           "2021-09-06", "2021-10-11", "2021-11-11", "2021-11-25", "2021-12-24", "2021-12-31"],
    2023: ["2023-01-02", "2023-01-16", "2023-02-20", "2023-05-29", "2023-06-19", "2023-07-04",
           "2023-09-04", "2023-10-09", "2023-11-10", "2023-11-23", "2023-12-25"],
    2003: ["2003-01-01", "2003-01-20", "2003-02-17", "2003-05-26", "2003-07-04", "2003-09-01",
           "2003-10-13", "2003-11-11", "2003-11-27", "2003-12-25"],
}


@pytest.mark.parametrize("year", sorted(OPM_HOLIDAYS))
def test_federal_holidays_match_the_published_schedule(conn: psycopg.Connection, year: int) -> None:
    rows = conn.execute(
        "SELECT holiday::text FROM federal_holidays WHERE holiday BETWEEN %s AND %s ORDER BY 1",
        (date(year, 1, 1), date(year, 12, 31)),
    ).fetchall()
    assert [r[0] for r in rows] == OPM_HOLIDAYS[year]


def test_an_added_closure_day_is_not_a_business_day(conn: psycopg.Connection) -> None:
    # 9 January 2025 (national day of mourning): not statutory, added by an operator.
    # (Rolled back: the corpus database is shared by this module's tests.)
    before = conn.execute("SELECT business_days_between('2025-01-08', '2025-01-10')").fetchone()
    with conn.transaction(force_rollback=True):
        conn.execute("INSERT INTO federal_holidays VALUES ('2025-01-09', 'National Day of Mourning')")
        after = conn.execute("SELECT business_days_between('2025-01-08', '2025-01-10')").fetchone()
    assert (before[0], after[0]) == (2, 1)


# ---------------------------------------------------------------------------
# The read-only role
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["", "Reader", "bad-name", "a b", "1reader", "x" * 64, "pg_monitor", "public",
     "r'); DROP TABLE filings; --", 'r"', "r;", "current_user"],
)
def test_role_name_is_validated(name: str) -> None:
    with pytest.raises(InvalidRoleName):
        validate_role_name(name)


def test_injection_attempt_creates_nothing(conn: psycopg.Connection) -> None:
    before = conn.execute("SELECT count(*) FROM pg_roles").fetchone()[0]
    with pytest.raises(InvalidRoleName):
        grant_reader(conn, "x; DROP TABLE filings")
    assert conn.execute("SELECT count(*) FROM pg_roles").fetchone()[0] == before
    assert conn.execute("SELECT to_regclass('filings')").fetchone()[0] == "filings"


def _assert_read_only(reader: psycopg.Connection) -> None:
    for relation in ("filings", "filing_owners", "transaction_codes", "insider_trades",
                     "insider_trades_all", "filing_amendments"):
        reader.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(relation)))
    assert reader.execute("SELECT count(*) FROM insider_trades").fetchone()[0] > 0
    forbidden = [
        "INSERT INTO transaction_codes VALUES ('Q', 'x', 'other', false, true, NULL)",
        "UPDATE transaction_codes SET meaning = 'x' WHERE code = 'P'",
        "DELETE FROM filings",
        "TRUNCATE footnotes",
        "ALTER TABLE filings ADD COLUMN x int",
        "DROP VIEW insider_trades",
    ]
    if reader.info.server_version >= 150000:  # before 15, PUBLIC may CREATE in public
        forbidden += ["CREATE TABLE reader_was_here (x int)", "CREATE VIEW reader_view AS SELECT 1"]
    for statement in forbidden:
        with pytest.raises(psycopg.errors.InsufficientPrivilege), reader.transaction():
            reader.execute(statement)


def test_reader_role_can_select_and_nothing_else(
    conn: psycopg.Connection, corpus_url: str, reader_role: str
) -> None:
    result = grant_reader(conn, reader_role, password="s3cret-Reader")
    assert result.created and result.login and result.relations >= 15
    if conn.info.server_version >= 150000:
        assert result.warnings == []
    # as the role itself, over a new login connection
    reader_url = make_url(corpus_url).set(username=reader_role, password="s3cret-Reader")
    with psycopg.connect(
        db.libpq_conninfo(reader_url.render_as_string(hide_password=False)), autocommit=True
    ) as reader:
        assert reader.execute("SELECT current_user").fetchone()[0] == reader_role
        _assert_read_only(reader)
    # and through SET ROLE
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(reader_role)))
    try:
        _assert_read_only(conn)
    finally:
        conn.execute("RESET ROLE")
    # no privilege beyond SELECT on any table or view of the schema
    extra = conn.execute(
        """
        SELECT c.relname, p.privilege_type
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
             LATERAL aclexplode(c.relacl) p
        WHERE n.nspname = 'public' AND p.grantee = to_regrole(%s)
          AND p.privilege_type <> 'SELECT'
        """,
        (reader_role,),
    ).fetchall()
    assert extra == []


def test_future_tables_are_readable(conn: psycopg.Connection, reader_role: str) -> None:
    grant_reader(conn, reader_role)  # NOLOGIN
    assert conn.execute(
        "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (reader_role,)
    ).fetchone()[0] is False
    table = f"later_table_{uuid.uuid4().hex[:8]}"
    conn.execute(sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(table)))
    try:
        conn.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(sql.Identifier(table)))
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(reader_role)))
        assert conn.execute(
            sql.SQL("SELECT x FROM {}").format(sql.Identifier(table))
        ).fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("INSERT INTO {} VALUES (2)").format(sql.Identifier(table)))
    finally:
        conn.execute("RESET ROLE")
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(table)))


def test_grant_reader_is_idempotent_and_honours_create(
    conn: psycopg.Connection, reader_role: str
) -> None:
    with pytest.raises(LookupError):
        grant_reader(conn, reader_role, create=False)
    assert grant_reader(conn, reader_role).created is True
    again = grant_reader(conn, reader_role, create=False, password="later-Login1")
    assert again.created is False and again.login is True


def test_administrative_roles_are_refused(conn: psycopg.Connection, reader_role: str) -> None:
    me = conn.execute("SELECT current_user").fetchone()[0]
    with pytest.raises(UnsuitableRole):
        grant_reader(conn, me, password="would-lock-me-out")
    conn.execute(sql.SQL("CREATE ROLE {} CREATEROLE").format(sql.Identifier(reader_role)))
    with pytest.raises(UnsuitableRole):
        grant_reader(conn, reader_role)
    granted = conn.execute(
        "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = %s",
        (reader_role,),
    ).fetchone()[0]
    assert granted == 0


def test_grant_reader_command(
    corpus_url: str, conn: psycopg.Connection, reader_role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", corpus_url)
    runner = CliRunner()
    result = runner.invoke(grant_reader_command, [reader_role])
    assert result.exit_code == 0, result.output
    assert f"role {reader_role} created (NOLOGIN)" in result.output
    again = runner.invoke(grant_reader_command, [reader_role, "--no-create"])
    assert again.exit_code == 0 and "updated" in again.output
    bad = runner.invoke(grant_reader_command, ["bad-name; DROP TABLE filings"])
    assert bad.exit_code == 2 and "not a valid role name" in bad.output
    missing = runner.invoke(grant_reader_command, [reader_role + "_x", "--no-create"])
    assert missing.exit_code == 1 and "does not exist" in missing.output


# ---------------------------------------------------------------------------
# Migration
# ---------------------------------------------------------------------------


def test_migration_downgrades_and_upgrades(database_url: str) -> None:
    from alembic import command

    config = db.alembic_config(database_url)
    command.downgrade(config, "0002")
    db.dispose_engines()
    with db.connect(database_url, autocommit=True) as conn:
        gone = conn.execute(
            "SELECT to_regclass('insider_trades'), to_regclass('transaction_codes'), "
            "to_regprocedure('business_days_between(date, date)')"
        ).fetchone()
        assert gone == (None, None, None)
    command.upgrade(config, "head")
    db.dispose_engines()
    with db.connect(database_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM transaction_codes").fetchone()[0] == 20

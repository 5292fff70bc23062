"""Generate a database of N transactions shaped like real filings, for the query benchmarks.

    python -m benchmarks.generate_million --url postgresql://postgres@127.0.0.1:5432/postgres \\
        --transactions 1000000 [--keep] [--bench] [--without-raw-submissions]

Creates a new database on that server (``edgar_bench_<random>``), migrates it to head and
fills it (``generate``), then drops it unless ``--keep``; ``--bench`` runs
``benchmarks.bench_queries`` on it first. ``generate(url, transactions)`` fills any
migrated, empty database (the tests use it at small scale).

How (all deterministic: the same N gives the same rows):

1. Templates. The real filings of the corpus (``tests/fixtures/submissions`` and
   ``ownership``, about 150 parsed Forms 3, 4 and 5) are loaded with the project's own
   parser and loader, and stay in the database as real filings.
2. Plan. One row per generated filing (``gen_plan``, a temporary table), built by one
   ``INSERT ... SELECT FROM generate_series``: which template it copies, its accession,
   issuer, reporting owners, dates, and whether and how it amends another filing.
3. Fill. One ``INSERT ... SELECT`` per table copies the template's rows through the
   table's real columns, read from the catalog: a column that is not overridden below is
   copied as loaded, dates move with the filing, amounts vary per filing. A column the
   loader fills that is neither from the parser's catalog nor overridden is reported at
   run time (a stored, derived column needs an override or the refresh step), and so is a
   table referencing filings that is not filled. The foreign keys to filings are dropped
   for the fill and added back after it (which checks every row in one join).
4. Refresh. The hook functions of ``REFRESH_HOOKS`` that exist in the schema are called
   over every accession (in batches), then ``VACUUM (ANALYZE)``.

Shape:

* Dates: filed dates spread evenly over full history (``START`` to ``END``) in filing
  order, each template keeping its own weekday, its transaction dates relative to its
  period and its lateness: at 30 M transactions the density is that of all of EDGAR.
* Forms: templates are drawn per form in the proportions of SEC's Insider Transactions
  Data Sets, 2024 Q3 (32,530 Form 4, 2,866 Form 3, 62 Form 5: ``FORM_MIX``), so each
  filing has the child rows of a real filing of its form (about 30 a filing).
* Joint and late filings, empty Forms 3: in their shares on EDGAR, not the corpus's
  (``TRAITS``): 3.1 % of the filings have two or more reporting owners (the corpus: a third
  of its Forms 4), 5.9 % of Forms 4 are filed late (the corpus: 7 %), 49 % of Forms 3
  report no securities owned (the corpus: 2 of 23). The amendments of joint filings are
  joint whatever the share.
* Issuers and owners: ``ISSUERS`` issuers, skewed (the product of two uniform draws:
  busy issuers file much more than quiet ones); each issuer has ``OWNER_GROUPS_PER_ISSUER``
  groups of reporting owners that always file for it, a joint filing being the first k
  members of a group. About one issuer in 50 reports the ticker ``NONE``.
* Amendments: filing i with i % ``AMENDMENT_EVERY`` == 0 (1.7%, as 520 4/As + 87 3/As of
  2024 Q3) amends the filing ``AMENDMENT_LAG`` positions earlier, in the ways of
  ``AMENDMENT_KINDS`` taken in turn: restated in full with one value corrected, a partial
  4/A reporting only the corrected line, holdings only, adding or dropping a joint filer,
  a second 4/A of the same report, a 4/A of the second or of the first of two same-day
  filings of the same owners, a 4/A whose original is not in the database while a filing
  of the same owners and period is, a 4/A adding an omitted line, a 3/A.
* Same-day filings: besides those, filing i with i % AMENDMENT_EVERY == ``SAME_DAY_AT`` is
  a second Form 4 of the same owners and issuer filed the same day as filing i - 1.
* The documented examples: the issuers and owners of docs/queries.md's ``params`` rows
  (Tesla 1318605, Elon Musk 1494730: ``documented_examples``) file about once in 4,000
  filings, and the originals of about one amendment slot in 7 of the first 140 (one in
  700 afterwards) are theirs, so every kind of amendment meets the documented queries.
* Raw submissions: one per filing, the gzip bytes of a real full submission of the corpus
  (``--without-raw-submissions``: none, where the disk is short).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TextIO

import psycopg
from psycopg import sql

from ingest import db
from ingest.analyst import documented_queries
from ingest.load import Loader
from ingest.parse import ParseError, parse_file
from ingest.records import (
    ENTRY_TABLES,
    FILING_DOCUMENT_COLUMNS,
    LINE_FOOTNOTE_COLUMNS,
    OWNER_COLUMNS,
    TRANSACTION_TABLES,
)
from ingest.rows import CHILD_TABLE_NAMES

REPO = Path(__file__).resolve().parent.parent
CORPUS = (REPO / "tests" / "fixtures" / "submissions", REPO / "tests" / "fixtures" / "ownership")
CORPUS_SUFFIXES = (".txt", ".nc", ".sgml", ".xml")

START = date(2003, 7, 1)  # ownership XML on EDGAR starts mid-2003
END = date(2026, 11, 30)

# Per mille of original filings by form (the rest are Form 4): SEC Insider Transactions Data
# Sets, 2024q3_form345.zip: 32,530 Form 4, 2,866 Form 3, 62 Form 5.
FORM_MIX = (("form3", 81), ("form5", 2))

ISSUERS = 20_000
OWNER_GROUPS_PER_ISSUER = 12
OWNERS_PER_GROUP = 16  # joint filings in the corpus have at most 10 owners (+1 added)
# Above every real CIK in the corpus (under 2.1 M), so generated filers never collide with it.
ISSUER_CIK_BASE = 3_000_000
OWNER_CIK_BASE = 5_000_000
NO_TICKER_EVERY = 50  # issuer index i % 50 == 7 reports 'NONE'
# Generated accessions are ACCESSION_AGENT + position / 1,000,000 - YY - position % 1,000,000:
# unique, increasing with the position, above any real filer agent of the corpus.
ACCESSION_AGENT = 9_900_000

AMENDMENT_EVERY = 60
AMENDMENT_LAG = 20
SAME_DAY_AT = 30
EXAMPLE_EVERY = 4001  # an original filing of a documented example issuer
# Amendment slot n (filing n * AMENDMENT_EVERY) amends an example's filing when
# n % 7 == 3 and (n < 140 or n % 700 == 3); the owner is the example owner when n is odd.
EXAMPLE_SLOT_EVERY, EXAMPLE_SLOT_AT, EXAMPLE_SLOTS_EARLY, EXAMPLE_SLOT_EVERY_LATE = 7, 3, 140, 700

# Tables copied from the templates, parents first.
CHILD_TABLES = (*CHILD_TABLE_NAMES, "raw_submissions")
HOLDING_TABLES = ("non_derivative_holdings", "derivative_holdings")

# Schema functions that bring stored, derived data up to date after a load, called with
# every accession number (in batches) when they exist: name -> argument type.
# (function, argument type): "" is a whole-database rebuild called once (migration 0009's
# rebuild_analyst_rows, what the loader's refresh_analyst_rows does batch by batch), "text[]"
# a refresh called over every accession, a batch at a time.
REFRESH_HOOKS = (("rebuild_analyst_rows", ""),)
REFRESH_BATCH = 50_000

# Template pools: which templates a filing may copy (predicates on gen_template).
POOLS = {
    "form3": "form = '3'",
    "form5": "form = '5'",
    "form4": "form = '4'",
    "tx4": "form = '4' AND transactions >= 1",
    "multi4": "form = '4' AND transactions >= 2",
    "joint4": "form = '4' AND transactions >= 1 AND owners >= 2",
    "jointmulti4": "form = '4' AND transactions >= 2 AND owners >= 2",
    "holding4": "form = '4' AND transactions >= 1 AND holdings >= 1",
}


@dataclass(frozen=True)
class Trait:
    """A shape a filing has in a known share of real filings: a pool that follows it is
    split in two (the templates with it, those without) and each filing draws which half
    by that share, instead of taking the corpus's share. The corpus was gathered for
    variety, not as a sample: a third of its Forms 4 are joint and 7 % late."""

    name: str
    predicate: str  # on gen_template
    per_mille: int  # filings with it, of 1,000
    salt: int  # of the filing's draw

    def drawn(self, x: str) -> str:
        return f"({_h(x, self.salt)} % 1000 < {self.per_mille})"


TRAITS = {
    trait.name: trait for trait in (
        # Two or more reporting owners. EDGAR's full index lists a filing under each filer:
        # its issuer and every reporting owner. In full-index/2023/QTR3/master.idx (through
        # 2023-08-08; https://www.sec.gov/Archives/edgar/full-index/2023/QTR3/master.gz)
        # 500 of 16,002 Forms 3, 4, 5 and their amendments are listed under three or more
        # CIKs (3.1 %; Forms 4 2.9 %, Forms 3 4.4 %); six daily indexes of 2013-2023 give
        # 1.0-5.2 %.
        Trait("joint", "owners >= 2", 31, 13),
        # Filed more than two business days after a line's execution date (question 7's
        # test). SEC Insider Transactions Data Sets 2024 Q3, SUBMISSION.tsv
        # (https://www.sec.gov/files/structureddata/data/insider-transactions-data-sets/
        # 2024q3_form345.zip), 11 stretches of rows, 14 filing days: 85 of 1,454 Forms 4
        # filed more than two business days after their period of report (5.9 %; 0.7-12.9 %
        # a day, highest after holiday weekends).
        Trait("late", "late", 59, 14),
        # A Form 3 reporting no securities owned: 59 of the 121 Forms 3 of the same rows
        # (49 %); the corpus's Forms 3 2 of 23.
        Trait("no_securities", "no_securities", 488, 15),
    )
}
# The traits each pool's draws follow; other pools draw their templates uniformly (the
# amendment kinds' pools must stay what they are: a joint amendment needs a joint original).
POOL_TRAITS = {
    "form3": ("joint", "no_securities"),
    "form4": ("joint", "late"),
    "tx4": ("joint", "late"),
}


def pool_halves(pool: str) -> list[tuple[str, str, float]]:
    """(sub-pool, predicate, share of the pool's draws) of each part of ``pool`` its traits
    split it into; the pool itself when it follows none."""
    parts = [(pool, POOLS[pool], 1.0)]
    for name in POOL_TRAITS.get(pool, ()):
        trait = TRAITS[name]
        share = trait.per_mille / 1000
        parts = [
            (f"{sub} {sign}{name}", f"{predicate} AND {'' if has else 'NOT '}({trait.predicate})",
             weight * (share if has else 1 - share))
            for sub, predicate, weight in parts
            for sign, has in (("+", True), ("-", False))
        ]
    return parts


@dataclass(frozen=True)
class AmendmentKind:
    """One way a 3/A or 4/A relates to the filing it amends."""

    name: str
    base_pool: str  # what the original must be (a joint filing, several lines, ...)
    rows: str = "all"  # 'all' restated | 'one' the first line only | 'holdings' only holdings
    corrected_shares: int = 100  # added to the shares of the first transaction line
    corrected_days: int = 0  # added to its transaction date (an omitted line: -1)
    owner_delta: int = 0  # joint filers added (+1) or dropped (-1)
    second: bool = False  # a second amendment of the previous slot's original
    sibling: str | None = None  # the original is the second of two filings: 'same_day'/'next_day'
    amends_first_of_pair: bool = False  # ... and the amendment amends the first one instead
    original_absent: bool = False  # the original is not in the database


# Taken in turn: amendment slot n is AMENDMENT_KINDS[n % len]. A 'second' kind follows the
# kind whose original it amends again.
AMENDMENT_KINDS = (
    AmendmentKind("form3_restated", "form3", corrected_shares=0),
    AmendmentKind("joint_full", "joint4"),
    AmendmentKind("joint_second", "joint4", corrected_shares=200, second=True),
    AmendmentKind("partial", "multi4", rows="one"),
    AmendmentKind("holdings_only", "holding4", rows="holdings", corrected_shares=0),
    AmendmentKind("adds_filer", "tx4", corrected_shares=0, owner_delta=1),
    AmendmentKind("drops_filer", "joint4", corrected_shares=0, owner_delta=-1),
    AmendmentKind("same_day_pair", "tx4", sibling="same_day"),
    AmendmentKind("same_day_first", "tx4", sibling="same_day", amends_first_of_pair=True),
    AmendmentKind("full", "tx4"),
    AmendmentKind("original_missing", "tx4", sibling="next_day", original_absent=True),
    AmendmentKind("joint_partial", "jointmulti4", rows="one"),
    AmendmentKind("adds_line", "tx4", rows="one", corrected_shares=0, corrected_days=-1),
)


def _check_kinds() -> None:
    for k, kind in enumerate(AMENDMENT_KINDS):
        if kind.second:
            previous = AMENDMENT_KINDS[k - 1]
            if previous.second or previous.original_absent or previous.rows != "all":
                raise ValueError(f"{kind.name} must follow a kind that restates a present original")


# ---------------------------------------------------------------------------
# docs/queries.md's examples
# ---------------------------------------------------------------------------

_PARAM_CIK = re.compile(r"\b(\d{1,10})(?:::bigint)?\s+AS\s+(owner|issuer)_cik\b", re.IGNORECASE)
_ACCESSION_LITERAL = re.compile(r"'(\d{10}-\d{2}-\d{6})'")


@dataclass(frozen=True)
class DocumentedExamples:
    """The CIKs and accessions docs/queries.md's SQL names: pairs (issuer, owner), either
    possibly None, from each query's ``params`` row, and the accessions it quotes."""

    pairs: tuple[tuple[int | None, int | None], ...]
    accessions: tuple[str, ...]

    @property
    def issuers(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(i for i, _ in self.pairs if i is not None))

    @property
    def owners(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(o for _, o in self.pairs if o is not None))


def documented_examples(text: str | None = None) -> DocumentedExamples:
    pairs: list[tuple[int | None, int | None]] = []
    accessions: list[str] = []
    for query in documented_queries(text):
        found = {kind.lower(): int(cik) for cik, kind in _PARAM_CIK.findall(query.sql)}
        pair = (found.get("issuer"), found.get("owner"))
        if pair != (None, None) and pair not in pairs:
            pairs.append(pair)
        accessions += [a for a in _ACCESSION_LITERAL.findall(query.sql) if a not in accessions]
    # A query naming only an owner (or only an issuer) that another pairs with its issuer
    # (owner) needs no pair of its own: the full pair's filings serve both.
    full = [(i, o) for i, o in pairs if i is not None and o is not None]
    pairs = [(i, o) for i, o in pairs if (i, o) in full
             or not any((i is None or i == fi) and (o is None or o == fo) for fi, fo in full)]
    return DocumentedExamples(tuple(pairs), tuple(accessions))


# ---------------------------------------------------------------------------
# SQL building blocks (every value a function of filing positions)
# ---------------------------------------------------------------------------


def _h(expr: str, salt: int) -> str:
    """A well-mixed non-negative integer (< 2^31) of a position and a salt."""
    return f"(hashint8extended(({expr})::bigint, {salt}) & 2147483647)::int"


def _base_kind(x: str) -> str:
    """Number of the amendment kind whose original is position x, or NULL."""
    n = f"(({x}) + {AMENDMENT_LAG}) / {AMENDMENT_EVERY}"
    seconds = ", ".join(str(k) for k, kind in enumerate(AMENDMENT_KINDS) if kind.second)
    return (
        f"(CASE WHEN (({x}) + {AMENDMENT_LAG}) % {AMENDMENT_EVERY} = 0 "
        f"AND {n} % {len(AMENDMENT_KINDS)} NOT IN ({seconds}) "
        f"THEN {n} % {len(AMENDMENT_KINDS)} END)"
    )


def _kinds_where(predicate) -> str:
    return ", ".join(str(k) for k, kind in enumerate(AMENDMENT_KINDS) if predicate(kind)) or "NULL"


def _is_sibling(x: str) -> str:
    """Position x is the second of two filings of the same owners (filed by x - 1 too)."""
    siblings = _kinds_where(lambda kind: kind.sibling is not None)
    return f"(coalesce({_base_kind(x)} IN ({siblings}), false) OR ({x}) % {AMENDMENT_EVERY} = {SAME_DAY_AT})"


def _pool_slot(x: str, pools: dict[str, tuple[int, int]]) -> str:
    """Row of gen_pool whose template position x copies: its pool, then a member by hash."""

    def member(pool: str, traits: tuple[str, ...] | None = None) -> str:
        traits = POOL_TRAITS.get(pool, ()) if traits is None else traits
        if traits:  # the half this filing draws, by the first trait, then by the rest
            trait = TRAITS[traits[0]]
            return (f"(CASE WHEN {trait.drawn(x)} THEN {member(f'{pool} +{trait.name}', traits[1:])} "
                    f"ELSE {member(f'{pool} -{trait.name}', traits[1:])} END)")
        offset, size = pools[pool]
        return f"{offset} + {_h(x, 1)} % {size}"

    by_kind = " ".join(
        f"WHEN {k} THEN {member(kind.base_pool)}" for k, kind in enumerate(AMENDMENT_KINDS)
    )
    draw = f"{_h(x, 2)} % 1000"
    by_form, bound = [], 0
    for pool, per_mille in FORM_MIX:
        bound += per_mille
        by_form.append(f"WHEN {draw} < {bound} THEN {member(pool)}")
    return (
        f"(CASE WHEN {_base_kind(x)} IS NOT NULL THEN CASE {_base_kind(x)} {by_kind} END "
        f"WHEN {_is_sibling(x)} OR {_is_sibling(f'({x}) + 1')} THEN {member('tx4')} "
        f"{' '.join(by_form)} ELSE {member('form4')} END)"
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _accession(pos: str, filed: str) -> str:
    return (
        f"(lpad(({ACCESSION_AGENT} + ({pos}) / 1000000)::text, 10, '0') || '-' "
        f"|| to_char({filed}, 'YY') "
        f"|| '-' || lpad((({pos}) % 1000000)::text, 6, '0'))"
    )


def _ticker(index: str) -> str:
    letters = " || ".join(f"chr(65 + (({index}) / {26 ** k}) % 26)" for k in (3, 2, 1, 0))
    return f"(CASE WHEN ({index}) % {NO_TICKER_EVERY} = 7 THEN 'NONE' ELSE {letters} END)"


def plan_sql(filings: int, pools: dict[str, tuple[int, int]], examples: int) -> str:
    """INSERT the plan: one row per generated filing (positions 1..filings, minus the
    originals that are meant to be missing). ``examples``: rows of gen_example."""
    _check_kinds()
    kinds = len(AMENDMENT_KINDS)
    second = _kinds_where(lambda k: k.second)
    absent = _kinds_where(lambda k: k.original_absent)
    next_day = _kinds_where(lambda k: k.sibling == "next_day")
    first_of_pair = _kinds_where(lambda k: k.amends_first_of_pair)
    # originals end early enough for the last amendments (16 weeks at most) to be filed by END
    span = (END - START).days - 120

    def per_kind(attr: str, quote: bool = False) -> str:
        whens = " ".join(
            f"WHEN {k} THEN {_literal(getattr(kind, attr)) if quote else int(getattr(kind, attr))}"
            for k, kind in enumerate(AMENDMENT_KINDS)
        )
        return f"CASE kind_no {whens} END"

    names = " ".join(f"WHEN {k} THEN '{kind.name}'" for k, kind in enumerate(AMENDMENT_KINDS))
    example_slot = f"((d + {AMENDMENT_LAG} + 1) / {AMENDMENT_EVERY})"
    example_by_slot = (
        f"((d + {AMENDMENT_LAG}) % {AMENDMENT_EVERY} IN (0, {AMENDMENT_EVERY - 1}) "
        f"AND {example_slot} % {EXAMPLE_SLOT_EVERY} = {EXAMPLE_SLOT_AT} "
        f"AND ({example_slot} < {EXAMPLE_SLOTS_EARLY} "
        f"OR {example_slot} % {EXAMPLE_SLOT_EVERY_LATE} = {EXAMPLE_SLOT_AT}))"
    )
    example_periodic = f"(d % {EXAMPLE_EVERY} = {EXAMPLE_EVERY // 2})"
    # Each step is a MATERIALIZED CTE: computed once per row, never pasted into the next
    # step's expressions (nested CASEs of CASEs would grow exponentially).
    return f"""
    WITH s1 AS MATERIALIZED (
        SELECT i, is_amendment, kind_no,
               CASE WHEN NOT is_amendment THEN i
                    WHEN kind_no IN ({second}) THEN i - {AMENDMENT_EVERY + AMENDMENT_LAG}
                    WHEN kind_no IN ({first_of_pair}) THEN i - {AMENDMENT_LAG + 1}
                    ELSE i - {AMENDMENT_LAG} END AS a
        FROM generate_series(1, {filings}) AS g(i)
        CROSS JOIN LATERAL (
            SELECT i % {AMENDMENT_EVERY} = 0 AS is_amendment,
                   CASE WHEN i % {AMENDMENT_EVERY} = 0 THEN (i / {AMENDMENT_EVERY}) % {kinds} END
                       AS kind_no) k
    ),
    s2 AS MATERIALIZED (
        SELECT s1.*, {_base_kind('a')} AS base_kind, {_is_sibling('a')} AS sibling FROM s1
    ),
    s3 AS MATERIALIZED (
        SELECT s2.*, d, ta.form AS template_form, ta.tpl AS template, ta.raw_tpl AS raw_template,
               ta.owners AS template_owners, ta.tpl_period AS a_tpl_period,
               ta.tpl_filed AS a_tpl_filed, ta.non_derivative_transactions AS a_ndt,
               td.owners AS d_owners, td.tpl_period AS d_tpl_period, td.tpl_filed AS d_tpl_filed
        FROM s2
        CROSS JOIN LATERAL (SELECT CASE WHEN sibling THEN a - 1 ELSE a END AS d) dd
        JOIN gen_pool pa ON pa.slot = {_pool_slot('a', pools)}
        JOIN gen_template ta ON ta.t = pa.t
        JOIN gen_pool pd ON pd.slot = {_pool_slot('d', pools)}
        JOIN gen_template td ON td.t = pd.t
        WHERE is_amendment OR NOT coalesce(base_kind IN ({absent}), false)
    ),
    s4 AS MATERIALIZED (
        -- the identity's filed date: its template's weekday, in filing order over history
        SELECT s3.*,
               d_tpl_filed + 7 * ((date '{START}' + (d::bigint * {span} / {filings})::int
                                   - d_tpl_filed + 70000) / 7 - 10000) AS filed_d,
               (({_h('d', 6)} % {ISSUERS}) * ({_h('d', 7)} % {ISSUERS})) / {ISSUERS} AS issuer_index,
               {example_by_slot} OR {example_periodic} AS example,
               ({example_by_slot} AND {example_slot} % 2 = 1)
                   OR ({example_periodic} AND (d / {EXAMPLE_EVERY}) % 10 = 0) AS example_owner,
               CASE WHEN {example_by_slot} THEN {example_slot} ELSE d / {EXAMPLE_EVERY} END
                   AS example_no
        FROM s3
    ),
    s5 AS MATERIALIZED (
        SELECT s4.*,
               CASE WHEN sibling THEN d_tpl_period + (filed_d - d_tpl_filed) - a_tpl_period
                    ELSE filed_d - a_tpl_filed END AS shift,
               CASE WHEN base_kind IN ({next_day})
                    THEN filed_d + CASE extract(isodow FROM filed_d) WHEN 5 THEN 3 WHEN 6 THEN 2 ELSE 1 END
                    ELSE filed_d END AS filed_a
        FROM s4
    ),
    s6 AS MATERIALIZED (
        SELECT s5.*,
               filed_a + CASE WHEN NOT is_amendment THEN 0
                              ELSE 7 * ({_h('a', 11)} % 13)
                                   + CASE WHEN kind_no IN ({second}) THEN 7 * (1 + {_h('a', 12)} % 4)
                                          ELSE 0 END END AS filed
        FROM s5
    )
    INSERT INTO gen_plan
    SELECT i AS pos, {_accession('i', 'filed')} AS accession,
           (CASE WHEN is_amendment THEN CASE kind_no {names} END END) AS kind,
           template_form || CASE WHEN is_amendment THEN '/A' ELSE '' END AS form,
           template, raw_template, template_owners, shift, a_tpl_period + shift AS period, filed,
           CASE WHEN is_amendment THEN filed_a END AS date_of_original_submission,
           (filed + make_interval(secs => 21600 + {_h('d', 3)} % 50000
                + CASE WHEN sibling THEN 60 + {_h('a', 4)} % 3600 ELSE 0 END
                + CASE WHEN NOT is_amendment THEN 0 WHEN kind_no IN ({second}) THEN 600 ELSE 300 END))
               AT TIME ZONE 'America/New_York' AS accepted_at,
           coalesce(ex.issuer_cik, {ISSUER_CIK_BASE} + issuer_index) AS issuer_cik,
           coalesce(ex.issuer_name, 'GENERATED ISSUER ' || issuer_index || ' INC') AS issuer_name,
           coalesce(ex.issuer_ticker, {_ticker('issuer_index')}) AS issuer_ticker,
           issuer_index + {ISSUERS} * ({_h('d', 8)} % {OWNER_GROUPS_PER_ISSUER}) AS owner_group,
           d_owners + CASE WHEN is_amendment THEN {per_kind('owner_delta')} ELSE 0 END AS owner_count,
           CASE WHEN example_owner THEN ex.owner_cik END AS first_owner_cik,
           CASE WHEN example_owner THEN ex.owner_name END AS first_owner_name,
           CASE WHEN is_amendment THEN {per_kind('rows', quote=True)} ELSE 'all' END AS rows,
           CASE WHEN a_ndt > 0 THEN 'non_derivative_transactions'
                ELSE 'derivative_transactions' END AS corrected_table,
           CASE WHEN is_amendment THEN {per_kind('corrected_shares')} ELSE 0 END AS corrected_shares,
           CASE WHEN is_amendment THEN {per_kind('corrected_days')} ELSE 0 END AS corrected_days,
           a AS seed
    FROM s6
    LEFT JOIN gen_example ex ON {f"example AND ex.no = example_no % {examples}" if examples else "false"}
    ORDER BY i
    """


# ---------------------------------------------------------------------------
# Template rows -> generated rows, per table
# ---------------------------------------------------------------------------


def _owner_cik(s: str) -> str:
    return (
        f"(CASE WHEN {s} = 1 AND p.first_owner_cik IS NOT NULL THEN p.first_owner_cik "
        f"ELSE {OWNER_CIK_BASE} + p.owner_group * {OWNERS_PER_GROUP} + {s} - 1 END)"
    )


def _owner_name(s: str) -> str:
    return (
        f"(CASE WHEN {s} = 1 AND p.first_owner_cik IS NOT NULL THEN p.first_owner_name "
        f"WHEN {s} = 1 THEN 'GENERATED PERSON ' || {_owner_cik(s)} "
        f"ELSE 'GENERATED HOLDINGS ' || {_owner_cik(s)} || ' LP' END)"
    )


def _scaled(column: str, factor: str) -> str:
    return f"round(x.{column} * {factor}, scale(x.{column}))"


def _per_filing(salt: int) -> str:
    """A factor of 0.50 to 1.50 per filing (the same in an amendment and its original)."""
    return f"((50 + {_h('p.seed', salt)} % 101)::numeric / 100)"


def _transaction_overrides(table: str) -> dict[str, str]:
    first_line = f"(x.sequence = 1 AND p.corrected_table = '{table}')"
    per_line = f"((75 + {_h('p.seed * 64 + x.sequence', 20)} % 51)::numeric / 100)"
    return {
        "transaction_shares": f"{_scaled('transaction_shares', per_line)} "
        f"+ CASE WHEN {first_line} THEN p.corrected_shares ELSE 0 END",
        "transaction_price_per_share": _scaled("transaction_price_per_share", _per_filing(21)),
        "shares_owned_following_transaction": _scaled(
            "shares_owned_following_transaction", _per_filing(22)
        ),
        "transaction_date": f"x.transaction_date + p.shift "
        f"+ CASE WHEN {first_line} THEN p.corrected_days ELSE 0 END",
        # derived from the amendments (migration 0011): the refresh hook sets it
        "superseded": "false",
    }


def _row_included(alias: str) -> str:
    """Is template row (alias.table_name, alias.sequence) part of the filing?"""
    holdings = ", ".join(f"'{t}'" for t in HOLDING_TABLES)
    return (
        f"(p.rows = 'all' OR (p.rows = 'holdings' AND {alias}.table_name IN ({holdings})) "
        f"OR (p.rows = 'one' AND {alias}.table_name = p.corrected_table AND {alias}.sequence = 1))"
    )


@dataclass(frozen=True)
class TableFill:
    """How one table's generated rows come from its template rows ``x`` and plan ``p``."""

    table: str
    source: str  # FROM ... (with p and x)
    where: str = "true"
    overrides: dict[str, str] = field(default_factory=dict)


def table_fills() -> list[TableFill]:
    from_template = "gen_plan p JOIN tpl_{t} x ON x.accession_number = p.template"
    fills = [
        TableFill(
            "filings",
            from_template.format(t="filings"),
            overrides={
                "form_type": "p.form",
                "document_type": "p.form",
                "period_of_report": "p.period",
                "date_of_original_submission": "p.date_of_original_submission",
                "issuer_cik": "p.issuer_cik",
                "issuer_name": "p.issuer_name",
                "issuer_trading_symbol": "p.issuer_ticker",
                "filed_date": "p.filed",
                "accepted_at": "p.accepted_at",
                "header_period": "p.period",
                "filer_ciks": f"ARRAY[p.issuer_cik] || ARRAY(SELECT {_owner_cik('s')} "
                "FROM generate_series(1, p.owner_count) s ORDER BY s)",
                # the 10b5-1 box exists from April 2023 (X0508); NULL before, as filed
                "aff10b5_one": "CASE WHEN p.filed >= date '2023-04-01' "
                "THEN coalesce(x.aff10b5_one, false) END",
                "source_kind": "'submission'",
                "source_name": "NULL",
                "raw_sha256": "encode(sha256(convert_to(p.accession, 'UTF8')), 'hex')",
            },
        ),
        TableFill(
            "filing_owners",
            "gen_plan p CROSS JOIN LATERAL generate_series(1, p.owner_count) s "
            "JOIN tpl_filing_owners x ON x.accession_number = p.template "
            "AND x.sequence = (s - 1) % p.template_owners + 1",
            overrides={
                "sequence": "s",
                "rpt_owner_cik": _owner_cik("s"),
                "rpt_owner_name": _owner_name("s"),
            },
        ),
    ]
    for table in TRANSACTION_TABLES:
        fills.append(TableFill(
            table, from_template.format(t=table),
            where=f"(p.rows = 'all' OR (p.rows = 'one' AND x.sequence = 1 "
            f"AND p.corrected_table = '{table}'))",
            overrides=_transaction_overrides(table),
        ))
    for table in HOLDING_TABLES:
        fills.append(TableFill(
            table, from_template.format(t=table), where="p.rows IN ('all', 'holdings')",
            overrides={"shares_owned_following_transaction": _scaled(
                "shares_owned_following_transaction", _per_filing(22))},
        ))
    fills += [
        TableFill(
            "footnote_references", from_template.format(t="footnote_references"),
            where=_row_included("x"),
        ),
        TableFill(
            "footnotes", from_template.format(t="footnotes"),
            where="(p.rows = 'all' OR EXISTS (SELECT 1 FROM tpl_footnote_references r "
            "WHERE r.accession_number = x.accession_number AND r.footnote_id = x.footnote_id "
            f"AND {_row_included('r')}))",
        ),
        TableFill("owner_signatures", from_template.format(t="owner_signatures")),
        TableFill("unmapped_values", from_template.format(t="unmapped_values"),
                  where="p.rows = 'all'"),
        TableFill(
            "raw_submissions",
            "gen_plan p JOIN tpl_raw_submissions x ON x.accession_number = p.raw_template",
            overrides={"sha256": "encode(sha256(convert_to(p.accession, 'UTF8')), 'hex')"},
        ),
    ]
    return fills


# Columns copied from the template as loaded without a second thought: the parser's
# catalog, and the loader's bookkeeping of how the row was made.
_CATALOG = {
    "filings": set(FILING_DOCUMENT_COLUMNS), "filing_owners": set(OWNER_COLUMNS),
    **{t: set(c) for t, c in ENTRY_TABLES.items()},
}
_BOOKKEEPING = {
    "filings": {"parsed", "parse_error", "parser_version", "ingested_at", "updated_at"},
    "footnotes": {"footnote_id", "text"},
    "footnote_references": {"footnote_id", "table_name", "sequence", "column_name"},
    "owner_signatures": {"sequence", "signature_name", "signature_date"},
    "unmapped_values": {"sequence", "path", "raw_value", "reason"},
    "raw_submissions": {"compression", "raw_size", "raw"},
    **{t: {"sequence"} for t in (*ENTRY_TABLES, "filing_owners")},
    # the template line's footnotes, copied with its footnote references (migration 0013)
    **{t: {"sequence", *LINE_FOOTNOTE_COLUMNS} for t in TRANSACTION_TABLES},
}


def _columns(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "AND attgenerated = '' ORDER BY attnum",
        (table,),
    ).fetchall()


def fill_statement(conn: psycopg.Connection, fill: TableFill) -> tuple[str, list[str]]:
    """The INSERT for one table, and the columns it copies that nobody vouched for."""
    names, values, unexpected = [], [], []
    for name, pg_type in _columns(conn, fill.table):
        if name == "accession_number":
            value = "p.accession"
        elif name in fill.overrides:
            value = fill.overrides[name]
        elif pg_type == "date":
            value = f"x.{name} + p.shift"
        else:
            value = f"x.{name}"
            known = _CATALOG.get(fill.table, set()) | _BOOKKEEPING.get(fill.table, set())
            if name not in known:
                unexpected.append(f"{fill.table}.{name}")
        names.append(sql.Identifier(name).as_string(conn))
        values.append(value)
    statement = (
        f"INSERT INTO {fill.table} ({', '.join(names)})\n"
        f"SELECT {', '.join(values)}\nFROM {fill.source}\nWHERE {fill.where}"
    )
    return statement, unexpected


# ---------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    return [p for folder in CORPUS for p in sorted(folder.iterdir()) if p.suffix in CORPUS_SUFFIXES]


def load_templates(conn: psycopg.Connection) -> list[str]:
    """The corpus through the project's parser and loader: real filings, kept. Returns
    the accession numbers stored (loaded now or before)."""
    parsed = []
    for path in corpus_files():
        try:
            parsed.append(parse_file(path.read_bytes(), path.name))
        except ParseError:
            continue  # no accession in name or header: not a usable template
    results = Loader(conn).load(parsed)
    return sorted({r.accession_number for r in results if r.status != "failed"})


def template_sql() -> str:
    """gen_template: one row per usable corpus filing, with its shape."""
    counts = ", ".join(
        f"(SELECT count(*) FROM {t} x WHERE x.accession_number = f.accession_number) AS {t}"
        for t in ("filing_owners", *TRANSACTION_TABLES, *HOLDING_TABLES)
    )
    return f"""
    CREATE TEMP TABLE gen_template AS
    WITH f AS (
        SELECT f.accession_number, coalesce(f.document_type, f.form_type) AS form, f.source_kind,
               coalesce(f.no_securities_owned, false) AS no_securities,
               f.period_of_report AS tpl_period,
               -- a bare XML has no filed date: its signature date is the nearest thing
               coalesce(f.filed_date, (SELECT max(s.signature_date) FROM owner_signatures s
                                       WHERE s.accession_number = f.accession_number),
                        f.period_of_report + 2) AS tpl_filed,
               {counts}
        FROM filings f
        WHERE f.accession_number = ANY(%(corpus)s) AND f.parsed AND f.period_of_report IS NOT NULL
          AND coalesce(f.document_type, f.form_type) IN ('3', '4', '5')
    ),
    submissions AS (
        SELECT accession_number, row_number() OVER (ORDER BY accession_number) - 1 AS k,
               count(*) OVER () AS n
        FROM f WHERE source_kind = 'submission'
    )
    SELECT row_number() OVER (ORDER BY f.accession_number)::int AS t, f.accession_number AS tpl,
           f.form, f.tpl_period, f.tpl_filed, f.filing_owners AS owners, f.no_securities,
           -- late as question 7 tells it (two business days allowed), from the filed date
           -- its copies get (a bare XML's copies are filed on its signature date), counting
           -- weekdays: copies move by whole weeks, away from a holiday the filing may have
           -- counted on (filed Wednesday for a Friday trade over the 4 July)
           EXISTS (SELECT 1 FROM insider_trades t
                   WHERE t.accession_number = f.accession_number AND t.transaction_form_type = '4'
                     AND (t.transaction_timeliness = 'L'
                          OR (SELECT count(*) FROM generate_series(
                                  coalesce(t.deemed_execution_date, t.transaction_date) + 1,
                                  f.tpl_filed, interval '1 day') d
                              WHERE extract(isodow FROM d) < 6) > 2))
               AS late,
           f.non_derivative_transactions, f.derivative_transactions,
           f.non_derivative_transactions + f.derivative_transactions AS transactions,
           f.non_derivative_holdings + f.derivative_holdings AS holdings,
           -- raw bytes: its own full submission, else one of the corpus's (EDGAR serves
           -- every filing as a full submission, never a bare XML)
           coalesce((SELECT s.accession_number FROM submissions s
                     WHERE s.accession_number = f.accession_number),
                    (SELECT s.accession_number FROM submissions s
                     WHERE s.k = abs(hashtextextended(f.accession_number, 0)) %% s.n)) AS raw_tpl
    FROM f
    """


def _fill_pool(conn: psycopg.Connection, pool: str, offset: int, where: str) -> int:
    """gen_pool rows of ``pool`` from slot ``offset``: the templates ``where`` selects."""
    return conn.execute(
        f"INSERT INTO gen_pool SELECT {offset} + row_number() OVER (ORDER BY t) - 1, "
        f"%s, t FROM gen_template WHERE {where}",
        (pool,),
    ).rowcount


def build_templates(
    conn: psycopg.Connection, corpus: list[str], examples: DocumentedExamples
) -> dict[str, tuple[int, int]]:
    """Temporary tables: the templates (among the ``corpus`` accessions), their pools,
    copies of their rows, the examples. Returns {pool: (first slot, size)}."""
    conn.execute(template_sql(), {"corpus": corpus})
    conn.execute("CREATE TEMP TABLE gen_pool (slot int PRIMARY KEY, pool text, t int)")
    pools: dict[str, tuple[int, int]] = {}
    subpools = [(sub, predicate) for pool in POOLS for sub, predicate, _ in pool_halves(pool)
                if sub != pool]
    for pool, predicate in [*POOLS.items(), *subpools]:
        offset = sum(size for _, size in pools.values())
        size = _fill_pool(conn, pool, offset, predicate)
        if size == 0 and pool not in POOLS:
            # a combination the corpus has no template for (a joint Form 3 reporting no
            # securities): its draws take the templates of its first traits, the last unheeded
            size = _fill_pool(conn, pool, offset, predicate.rsplit(" AND ", 1)[0])
        if size == 0:
            raise RuntimeError(f"no template in the corpus for pool {pool} ({predicate})")
        pools[pool] = (offset, size)
    for table in ("filings", *CHILD_TABLES):
        conn.execute(
            f"CREATE TEMP TABLE tpl_{table} AS SELECT * FROM {table} "
            "WHERE accession_number IN (SELECT tpl FROM gen_template UNION SELECT raw_tpl "
            "FROM gen_template)"
        )
    conn.execute(
        "CREATE TEMP TABLE gen_example (no int, issuer_cik bigint, issuer_name text, "
        "issuer_ticker text, owner_cik bigint, owner_name text)"
    )
    for no, (issuer, owner) in enumerate(examples.pairs):
        conn.execute(
            "INSERT INTO gen_example SELECT %(no)s, %(issuer)s, "
            "coalesce(i.name, 'EXAMPLE ISSUER ' || %(issuer)s), i.trading_symbol, %(owner)s, "
            "coalesce(o.name, 'EXAMPLE OWNER ' || %(owner)s) "
            "FROM (SELECT 1) one LEFT JOIN issuers i ON i.cik = %(issuer)s "
            "LEFT JOIN persons o ON o.cik = %(owner)s",
            {"no": no, "issuer": issuer, "owner": owner},
        )
    return pools


PLAN_TABLE_SQL = """
CREATE TEMP TABLE gen_plan (
    pos bigint, accession text, kind text, form text, template text, raw_template text,
    template_owners int, shift int, period date, filed date, date_of_original_submission date,
    accepted_at timestamptz, issuer_cik bigint, issuer_name text, issuer_ticker text,
    owner_group bigint, owner_count int, first_owner_cik bigint, first_owner_name text,
    rows text, corrected_table text, corrected_shares int, corrected_days int, seed bigint
)
"""


def expected_transactions_per_filing(conn: psycopg.Connection) -> float:
    """Transactions of an average original filing under FORM_MIX and TRAITS (the means of
    the pools it draws from, each weighted by its share)."""
    means = dict(conn.execute(
        "SELECT p.pool, avg(t.transactions)::float FROM gen_pool p "
        "JOIN gen_template t USING (t) GROUP BY p.pool"
    ).fetchall())

    def mean(pool: str) -> float:
        return sum(means[sub] * share for sub, _, share in pool_halves(pool))

    rest = 1000 - sum(per_mille for _, per_mille in FORM_MIX)
    total = sum(mean(pool) * per_mille for pool, per_mille in FORM_MIX) + mean("form4") * rest
    return total / 1000


def _foreign_keys_to_filings(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    """(table, constraint, definition) of every foreign key that references filings."""
    return conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND confrelid = 'filings'::regclass ORDER BY 1, 2"
    ).fetchall()


def _tables_referencing_filings(conn: psycopg.Connection) -> list[str]:
    return sorted({table for table, _, _ in _foreign_keys_to_filings(conn)})


@contextmanager
def foreign_keys_deferred(conn: psycopg.Connection, clock: _Clock) -> Iterator[None]:
    """Drop the foreign keys to filings for the fill and add them back after it: adding
    one checks every row in one join, where keeping it checks each inserted row alone
    (more than half of the fill's time). The rows are the same either way."""
    keys = _foreign_keys_to_filings(conn)
    for table, name, _ in keys:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            sql.Identifier(table), sql.Identifier(name)))
    try:
        yield
    finally:
        def add_back() -> None:
            for table, name, definition in keys:
                conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                    sql.Identifier(table), sql.Identifier(name)) + sql.SQL(definition))
        clock.step("foreign keys added back", add_back, rows=False)


def _fill_issuers_and_persons(conn: psycopg.Connection) -> tuple[int, int]:
    issuers = conn.execute(
        "INSERT INTO issuers (cik, name, trading_symbol, as_of, last_accession_number) "
        "SELECT DISTINCT ON (issuer_cik) issuer_cik, issuer_name, issuer_ticker, period, accession "
        "FROM gen_plan ORDER BY issuer_cik, filed DESC, accession DESC "
        "ON CONFLICT (cik) DO NOTHING"
    ).rowcount
    persons = conn.execute(
        "INSERT INTO persons (cik, name, as_of, last_accession_number) "
        "SELECT DISTINCT ON (o.rpt_owner_cik) o.rpt_owner_cik, o.rpt_owner_name, p.period, "
        "p.accession FROM gen_plan p JOIN filing_owners o ON o.accession_number = p.accession "
        "ORDER BY o.rpt_owner_cik, p.filed DESC, p.accession DESC "
        "ON CONFLICT (cik) DO NOTHING"
    ).rowcount
    return issuers, persons


@dataclass
class Generated:
    templates: int = 0
    filings_planned: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    unexpected_columns: list[str] = field(default_factory=list)
    unfilled_tables: list[str] = field(default_factory=list)
    refreshed_with: list[str] = field(default_factory=list)

    @property
    def transactions(self) -> int:
        return sum(self.rows.get(t, 0) for t in TRANSACTION_TABLES)

    @property
    def fill_rows(self) -> int:
        return sum(self.rows.values())


class _Clock:
    def __init__(self, result: Generated, out: TextIO) -> None:
        self.result, self.out = result, out

    def step(self, name: str, run, rows: bool = True):
        started = time.monotonic()
        value = run()
        elapsed = time.monotonic() - started
        self.result.seconds[name] = elapsed
        if rows:
            self.result.rows[name] = value
            rate = value / elapsed if elapsed > 0 else 0.0
            print(f"  {name}: {value:,} rows in {elapsed:.1f} s ({rate:,.0f} rows/s)", file=self.out)
        else:
            print(f"  {name}: {elapsed:.1f} s", file=self.out)
        return value


def generate(url: str, transactions: int, out: TextIO = sys.stdout,
             refresh_batch: int = REFRESH_BATCH, skip: frozenset[str] = frozenset()) -> Generated:
    """Fill the migrated, empty database at ``url`` with about ``transactions`` transactions;
    the tables named in ``skip`` stay empty (``raw_submissions``: ~20 GB at 30 M)."""
    result = Generated()
    clock = _Clock(result, out)
    with psycopg.connect(db.libpq_conninfo(db.normalize_url(url)), autocommit=True) as conn:
        conn.execute("SET jit = off")  # compiling these long expressions costs more than it saves
        _plan(conn, transactions, result, clock, out)
        _fill(conn, result, clock, out, skip)
        clock.step("refresh", lambda: refresh(conn, refresh_batch, result, out), rows=False)
        clock.step("vacuum analyze", lambda: conn.execute("VACUUM (ANALYZE)"), rows=False)
    return result


def _plan(conn: psycopg.Connection, transactions: int, result: Generated, clock: _Clock,
          out: TextIO) -> None:
    """Templates loaded, then gen_plan: enough filings for about ``transactions``."""
    examples = documented_examples()
    corpus = clock.step("templates loaded", lambda: load_templates(conn), rows=False)
    pools = build_templates(conn, corpus, examples)
    result.templates = conn.execute("SELECT count(*) FROM gen_template").fetchone()[0]
    per_filing = expected_transactions_per_filing(conn)
    filings = max(2 * AMENDMENT_EVERY, round(transactions / per_filing))
    result.filings_planned = filings
    print(f"  {result.templates} templates; {per_filing:.2f} transactions per filing "
          f"expected: {filings:,} filing positions", file=out)
    conn.execute(PLAN_TABLE_SQL)
    statement = plan_sql(filings, pools, len(examples.pairs))
    clock.step("plan", lambda: conn.execute(statement).rowcount, rows=False)


def _fill(conn: psycopg.Connection, result: Generated, clock: _Clock, out: TextIO,
          skip: frozenset[str] = frozenset()) -> None:
    """Every table from the plan and the templates but those in ``skip``, then issuers and
    persons."""
    fills = [fill for fill in table_fills() if fill.table not in skip]
    for table in sorted(skip):
        print(f"  {table}: left empty (asked)", file=out)
    result.unfilled_tables = sorted(
        set(_tables_referencing_filings(conn)) - {fill.table for fill in fills} - skip)
    for table in result.unfilled_tables:
        print(f"  note: {table} references filings but is not generated; fill it in a "
              "refresh hook or add a TableFill", file=out)
    with foreign_keys_deferred(conn, clock):
        for fill in fills:
            statement, unexpected = fill_statement(conn, fill)
            result.unexpected_columns += unexpected
            clock.step(fill.table, lambda s=statement: conn.execute(s).rowcount)
    issuers, persons = clock.step("issuers and persons",
                                  lambda: _fill_issuers_and_persons(conn), rows=False)
    print(f"    {issuers:,} issuers, {persons:,} persons", file=out)
    for column in result.unexpected_columns:
        print(f"  note: {column} is copied from the template rows as loaded; if it is "
              "derived from other rows, override it or refresh it", file=out)


def refresh(conn: psycopg.Connection, batch: int, result: Generated, out: TextIO) -> None:
    """Bring whatever the schema stores about other rows up to date: each hook of
    REFRESH_HOOKS that exists is called over every accession, ``batch`` at a time."""
    for name, argument in REFRESH_HOOKS:
        signature = f"{name}({argument})"
        if conn.execute("SELECT to_regprocedure(%s)", (signature,)).fetchone()[0] is None:
            print(f"    {signature}: not in this schema, skipped", file=out)
            continue
        if not argument:
            conn.execute(sql.SQL("SELECT {}()").format(sql.Identifier(name)))
            result.refreshed_with.append(signature)
            print(f"    {signature}: once", file=out)
            continue
        call = sql.SQL(
            "WITH b AS (SELECT accession_number FROM filings WHERE accession_number > %s "
            "ORDER BY accession_number LIMIT %s) "
            "SELECT {}(array_agg(accession_number)), max(accession_number), count(*) FROM b"
        ).format(sql.Identifier(name))
        last, calls = "", 0
        while True:
            _, newest, count = conn.execute(call, (last, batch)).fetchone()
            if not count:
                break
            last, calls = newest, calls + 1
        result.refreshed_with.append(signature)
        print(f"    {signature}: {calls} calls", file=out)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(db.libpq_conninfo(db.normalize_url(url)), autocommit=True)


def database_url(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(db.normalize_url(url)).set(database=name).render_as_string(hide_password=False)


def database_size(url: str) -> int:
    with _admin(url) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def create_database(server: str) -> tuple[str, str]:
    """A new, migrated database on ``server``: (name, URL)."""
    name = f"edgar_bench_{uuid.uuid4().hex[:10]}"
    with _admin(server) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target = database_url(server, name)
    db.upgrade(target)
    db.dispose_engines()
    return name, target


def drop_database(server: str, name: str) -> None:
    db.dispose_engines()
    with _admin(server) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def summary(result: Generated, size: int, seconds: float) -> Iterator[str]:
    filings = result.rows.get("filings", 0)
    fill_seconds = sum(result.seconds[table] for table in result.rows)
    yield (f"transactions {result.transactions:,}; filings {filings:,} (and {result.templates} "
           f"templates); {result.fill_rows:,} rows in {fill_seconds:.0f} s "
           f"({result.fill_rows / max(fill_seconds, 1e-9):,.0f} rows/s)")
    if filings:
        child = sum(result.rows.get(t, 0) for t in CHILD_TABLES if t != "raw_submissions")
        per = ", ".join(f"{t} {result.rows.get(t, 0) / filings:.2f}" for t in CHILD_TABLES)
        yield f"child rows per filing {child / filings:.2f}: {per}"
    yield f"database size {size / 2**30:.2f} GiB; {seconds:.0f} s in all"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="server URL (any database of it)")
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--bench", action="store_true",
                        help="run benchmarks.bench_queries on it before dropping it")
    parser.add_argument("--refresh-batch", type=int, default=REFRESH_BATCH,
                        help="accessions per call of a refresh hook")
    parser.add_argument("--without-raw-submissions", action="store_true",
                        help="leave raw_submissions empty (a third of the size at full history)")
    args = parser.parse_args(argv)
    skip = frozenset({"raw_submissions"} if args.without_raw_submissions else ())
    started = time.monotonic()
    name, target = create_database(args.url)
    print(f"database {name}: migrated; generating {args.transactions:,} transactions")
    try:
        result = generate(target, args.transactions, refresh_batch=args.refresh_batch, skip=skip)
        for line in summary(result, database_size(target), time.monotonic() - started):
            print(line)
        if args.bench:
            from benchmarks import bench_queries

            bench_queries.run(target)
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            drop_database(args.url, name)
            print(f"dropped database {name}")


if __name__ == "__main__":
    main()

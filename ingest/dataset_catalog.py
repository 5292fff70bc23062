"""SEC's Insider Transactions Data Sets (Form 345): every table and column, mapped onto ours.

The data sets are SEC's quarterly flat extract of the ownership XML filings
(https://www.sec.gov/files/structureddata/data/insider-transactions-data-sets/, readme
"Form 345 Data Sets" = FORM_345_readme, and the CSVW metadata of each quarter). This module
is the mapping, written once, as data, beside the column catalog of ``ingest.records``:
which data-set column fills which of our columns. Kinds are not restated here: a value
column converts to the kind the catalog gives its target column.

Readme and metadata disagree on a few names, and SEC's files follow neither everywhere; the
names below are the union, each spelling listed once:

- ``EQUITY_SWAP_TRANS_CD_FN`` (readme 5.3/5.5 and the real 2024 Q3 files) is
  ``EQUITY_SWAP_INVOLVED_FN`` in the CSVW metadata;
- ``FORM3_HOLDINGS_REPORTED`` (metadata, real files) is ``FORM3_HOLDING_REPORTED`` in the readme;
- the metadata lists ``CONTACT_NAME``, ``CONTACT_PHONE_NUMBER``, ``CONTACT_EMAIL_ADDRESS`` and
  ``NOTIFICATION_EMAIL_ADDRESS`` in SUBMISSION, the real files do not carry them;
- ``AFF10B5ONE`` is appended to SUBMISSION in the files of recent quarters only;
- ``EXCERCISE_DATE`` (sic) in DERIV_TRANS, ``EXERCISE_DATE`` in DERIV_HOLDING.

Footnote lists (``*_FN``) name the column their footnotes annotate, in the names the XML
parser gives footnote references (``ingest.ownership_xml``: a ``<footnoteId>`` inside an
element refers to that element's column). The coding footnotes are the one group-level case:
in the XML they sit in ``<transactionCoding>`` (EDGAR Ownership XML Technical Specification
v5.5, ``TRANSACTION_CODING_FOR_4``/``_FOR_5``/``TRANSACTION_CODE_FOR_HOLDING``), so
``EQUITY_SWAP_TRANS_CD_FN`` and the holdings' ``TRANS_FORM_TYPE_FN`` annotate
``transaction_coding``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .ownership_xml import SIGNATURE_COLUMNS
from .records import ENTRY_TABLES, FILING_DOCUMENT_COLUMNS, OWNER_COLUMNS, Kind


class Role(StrEnum):
    ACCESSION = "accession"  # ACCESSION_NUMBER: which filing the row belongs to
    SURROGATE_KEY = "surrogate key"  # *_SK: orders a filing's rows (their sequence)
    VALUE = "value"  # into ``column``, converted to the catalog kind of that column
    FOOTNOTES = "footnotes"  # "F1, F2": footnote_references to ``column`` of the row
    RELATIONSHIP = "relationship"  # "Director,Officer": the is_* flags of the owner
    NO_COLUMN = "no column"  # a value we have no column for: kept in unmapped_values


@dataclass(frozen=True, slots=True)
class SourceColumn:
    """One column of a data-set table and where its values go."""

    name: str
    role: Role
    column: str | None = None  # our column (VALUE, FOOTNOTES)
    aliases: tuple[str, ...] = ()  # other spellings SEC has used for the same column
    optional: bool = False  # absent from some quarters' files

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class DatasetTable:
    """One data-set table (one ``.tsv`` member of the quarter's zip) and its target table."""

    name: str  # SEC's table name, e.g. NONDERIV_TRANS
    target: str  # our table
    columns: tuple[SourceColumn, ...]

    @property
    def file_name(self) -> str:
        return f"{self.name}.tsv"

    @property
    def kinds(self) -> dict[str, Kind]:
        """Kind of each of our columns this table fills."""
        return TARGET_KINDS[self.target]


def _value(name: str, column: str, **options: object) -> SourceColumn:
    return SourceColumn(name, Role.VALUE, column, **options)  # type: ignore[arg-type]


def _noted(name: str, column: str) -> tuple[SourceColumn, SourceColumn]:
    """A value column and its footnote list ``<name>_FN``, both about ``column``."""
    return _value(name, column), SourceColumn(f"{name}_FN", Role.FOOTNOTES, column)


_ACCESSION = SourceColumn("ACCESSION_NUMBER", Role.ACCESSION)
_CODING_FOOTNOTES = "transaction_coding"  # <transactionCoding><footnoteId/>: see above

_TITLE = _noted("SECURITY_TITLE", "security_title")
_CONVERSION_PRICE = _noted("CONV_EXERCISE_PRICE", "conversion_or_exercise_price")
_TRANSACTION_DATES = (
    *_noted("TRANS_DATE", "transaction_date"),
    *_noted("DEEMED_EXECUTION_DATE", "deemed_execution_date"),
)
_CODING = (
    _value("TRANS_FORM_TYPE", "transaction_form_type"),
    _value("TRANS_CODE", "transaction_code"),
    _value("EQUITY_SWAP_INVOLVED", "equity_swap_involved"),
    SourceColumn(
        "EQUITY_SWAP_TRANS_CD_FN", Role.FOOTNOTES, _CODING_FOOTNOTES,
        aliases=("EQUITY_SWAP_INVOLVED_FN",),
    ),
    *_noted("TRANS_TIMELINESS", "transaction_timeliness"),
)
_HOLDING_CODING = (
    _value("TRANS_FORM_TYPE", "transaction_form_type"),
    SourceColumn("TRANS_FORM_TYPE_FN", Role.FOOTNOTES, _CODING_FOOTNOTES),
)
_SHARES = _noted("TRANS_SHARES", "transaction_shares")
_PRICE = _noted("TRANS_PRICEPERSHARE", "transaction_price_per_share")
_ACQUIRED_DISPOSED = _noted("TRANS_ACQUIRED_DISP_CD", "transaction_acquired_disposed_code")
_EXPIRATION = _noted("EXPIRATION_DATE", "expiration_date")
_UNDERLYING = (
    *_noted("UNDLYNG_SEC_TITLE", "underlying_security_title"),
    *_noted("UNDLYNG_SEC_SHARES", "underlying_security_shares"),
    *_noted("UNDLYNG_SEC_VALUE", "underlying_security_value"),
)
_POST_AND_NATURE = (
    *_noted("SHRS_OWND_FOLWNG_TRANS", "shares_owned_following_transaction"),
    *_noted("VALU_OWND_FOLWNG_TRANS", "value_owned_following_transaction"),
    *_noted("DIRECT_INDIRECT_OWNERSHIP", "direct_or_indirect_ownership"),
    *_noted("NATURE_OF_OWNERSHIP", "nature_of_ownership"),
)

SUBMISSION = DatasetTable(
    "SUBMISSION",
    "filings",
    (
        _ACCESSION,
        _value("FILING_DATE", "filed_date"),
        _value("PERIOD_OF_REPORT", "period_of_report"),
        _value("DATE_OF_ORIG_SUB", "date_of_original_submission"),
        _value("NO_SECURITIES_OWNED", "no_securities_owned"),
        _value("NOT_SUBJECT_SEC16", "not_subject_to_section16"),
        _value("FORM3_HOLDINGS_REPORTED", "form3_holdings_reported",
               aliases=("FORM3_HOLDING_REPORTED",)),
        _value("FORM4_TRANS_REPORTED", "form4_transactions_reported"),
        _value("DOCUMENT_TYPE", "document_type"),
        _value("ISSUERCIK", "issuer_cik"),
        _value("ISSUERNAME", "issuer_name"),
        _value("ISSUERTRADINGSYMBOL", "issuer_trading_symbol"),
        *(
            SourceColumn(name, Role.NO_COLUMN, optional=True)
            for name in ("CONTACT_NAME", "CONTACT_PHONE_NUMBER", "CONTACT_EMAIL_ADDRESS",
                         "NOTIFICATION_EMAIL_ADDRESS")
        ),
        _value("REMARKS", "remarks"),
        _value("AFF10B5ONE", "aff10b5_one", optional=True),
    ),
)

REPORTINGOWNER = DatasetTable(
    "REPORTINGOWNER",
    "filing_owners",
    (
        _ACCESSION,
        _value("RPTOWNERCIK", "rpt_owner_cik"),
        _value("RPTOWNERNAME", "rpt_owner_name"),
        SourceColumn("RPTOWNER_RELATIONSHIP", Role.RELATIONSHIP),
        _value("RPTOWNER_TITLE", "officer_title"),
        _value("RPTOWNER_TXT", "other_text"),
        _value("RPTOWNER_STREET1", "rpt_owner_street1"),
        _value("RPTOWNER_STREET2", "rpt_owner_street2"),
        _value("RPTOWNER_CITY", "rpt_owner_city"),
        _value("RPTOWNER_STATE", "rpt_owner_state"),
        _value("RPTOWNER_ZIPCODE", "rpt_owner_zip_code"),
        _value("RPTOWNER_STATE_DESC", "rpt_owner_state_description"),
        # The owner's SEC file number comes from EDGAR's header, not the XML: no column.
        SourceColumn("FILE_NUMBER", Role.NO_COLUMN),
    ),
)

NONDERIV_TRANS = DatasetTable(
    "NONDERIV_TRANS",
    "non_derivative_transactions",
    (
        _ACCESSION,
        SourceColumn("NONDERIV_TRANS_SK", Role.SURROGATE_KEY),
        *_TITLE,
        *_TRANSACTION_DATES,
        *_CODING,
        *_SHARES,
        *_PRICE,
        *_ACQUIRED_DISPOSED,
        *_POST_AND_NATURE,
    ),
)

NONDERIV_HOLDING = DatasetTable(
    "NONDERIV_HOLDING",
    "non_derivative_holdings",
    (
        _ACCESSION,
        SourceColumn("NONDERIV_HOLDING_SK", Role.SURROGATE_KEY),
        *_TITLE,
        *_HOLDING_CODING,
        *_POST_AND_NATURE,
    ),
)

DERIV_TRANS = DatasetTable(
    "DERIV_TRANS",
    "derivative_transactions",
    (
        _ACCESSION,
        SourceColumn("DERIV_TRANS_SK", Role.SURROGATE_KEY),
        *_TITLE,
        *_CONVERSION_PRICE,
        *_TRANSACTION_DATES,
        *_CODING,
        *_SHARES,
        *_noted("TRANS_TOTAL_VALUE", "transaction_total_value"),
        *_PRICE,
        *_ACQUIRED_DISPOSED,
        *_noted("EXCERCISE_DATE", "exercise_date"),
        *_EXPIRATION,
        *_UNDERLYING,
        *_POST_AND_NATURE,
    ),
)

DERIV_HOLDING = DatasetTable(
    "DERIV_HOLDING",
    "derivative_holdings",
    (
        _ACCESSION,
        SourceColumn("DERIV_HOLDING_SK", Role.SURROGATE_KEY),
        *_TITLE,
        *_CONVERSION_PRICE,
        *_HOLDING_CODING,
        *_noted("EXERCISE_DATE", "exercise_date"),
        *_EXPIRATION,
        *_UNDERLYING,
        *_POST_AND_NATURE,
    ),
)

FOOTNOTES = DatasetTable(
    "FOOTNOTES",
    "footnotes",
    (
        _ACCESSION,
        _value("FOOTNOTE_ID", "footnote_id"),
        _value("FOOTNOTE_TXT", "text"),
    ),
)

OWNER_SIGNATURE = DatasetTable(
    "OWNER_SIGNATURE",
    "owner_signatures",
    (
        _ACCESSION,
        _value("OWNERSIGNATURENAME", "signature_name"),
        _value("OWNERSIGNATUREDATE", "signature_date"),
    ),
)

# Every table of a quarter, in the order they are read. All eight are required.
DATASET_TABLES: tuple[DatasetTable, ...] = (
    SUBMISSION,
    REPORTINGOWNER,
    NONDERIV_TRANS,
    NONDERIV_HOLDING,
    DERIV_TRANS,
    DERIV_HOLDING,
    FOOTNOTES,
    OWNER_SIGNATURE,
)

# The kinds of our columns the data sets fill: the catalog's, plus the two filings columns
# the XML does not carry (the SGML header's filed date) and the footnotes table's own.
TARGET_KINDS: dict[str, dict[str, Kind]] = {
    "filings": {**FILING_DOCUMENT_COLUMNS, "filed_date": Kind.DATE},
    "filing_owners": OWNER_COLUMNS,
    **ENTRY_TABLES,
    "footnotes": {"footnote_id": Kind.TEXT, "text": Kind.TEXT},
    "owner_signatures": SIGNATURE_COLUMNS,
}

# RPTOWNER_RELATIONSHIP words (readme 5.2: "OFFICER, DIRECTOR, TENPERCENTOWNER, OTHER"; the
# files write "Director,Officer"), compared case-insensitively, and the flag each sets.
RELATIONSHIP_FLAGS: dict[str, str] = {
    "director": "is_director",
    "officer": "is_officer",
    "tenpercentowner": "is_ten_percent_owner",
    "other": "is_other",
}

# Numbers in the data sets are rounded to 2 decimals (readme: NUMBER(16,2); a filing's
# 224.048 shares is 224.05 in the data set), where filings carry up to 4.
DATASET_DECIMALS = 2


def _check() -> None:
    """The mapping names only columns that exist, each at most once per table."""
    for table in DATASET_TABLES:
        kinds = table.kinds
        seen: set[str] = set()
        for source in table.columns:
            for name in source.names:
                if name in seen:
                    raise RuntimeError(f"{table.name}.{name} is mapped twice")
                seen.add(name)
            if source.role is Role.VALUE and source.column not in kinds:
                raise RuntimeError(f"{table.name}.{source.name}: {table.target} has no "
                                   f"column {source.column}")
        if table.target in ENTRY_TABLES:
            for source in table.columns:
                if source.role is Role.FOOTNOTES and source.column not in kinds \
                        and source.column != _CODING_FOOTNOTES:
                    raise RuntimeError(f"{table.name}.{source.name} annotates an unknown column")
    for flag in RELATIONSHIP_FLAGS.values():
        if flag not in OWNER_COLUMNS:
            raise RuntimeError(f"filing_owners has no column {flag}")


_check()

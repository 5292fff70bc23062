"""Parse throughput on one core: our parser against edgartools and the lxml ceiling.

    python -m benchmarks.bench_parse                # 5 s per contender
    python -m benchmarks.bench_parse --seconds 2    # quicker
    python -m benchmarks.bench_parse --json         # the result dict as JSON too

Contenders, each turning the corpus (tests/fixtures) into typed records, in one process:

* ours, bare XML: ``ingest.parse.parse_file`` on the 165 ownership documents;
* ours, submissions: ``parse_file`` on the 55 full submissions (SGML header + XML);
* edgartools: ``edgar.ownership.Ownership.parse_xml`` on the same 165 documents, with its
  per-owner company look-up (``Entity(cik)``, an HTTP request) replaced by a stub and the
  network switched off while it runs; "n/a" with the reason when it cannot be imported;
* lxml ceiling: ``lxml.etree.fromstring`` with our safety options plus a visit of every
  element (``root.iter()``), i.e. parsing with nothing done with the result; also shown
  with blank text dropped, the way our fast parse reads.

Each contender runs after a warm-up for ``seconds`` of wall time, split into ``runs`` slices
that are interleaved round-robin with the other contenders (so a change in machine load
hits them all alike). Reported: the median slice rate in documents per second of this
process's CPU time, i.e. what one core does (the ratios use it), and the same in
wall-clock terms, which equals it on an idle machine and is lower on a busy one (the
lowest CPU share is printed). Our converted-value memos are cleared at every pass over the
corpus, so repeated passes do not turn into cache hits. Timings are figures to report,
never pass/fail.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import json
import socket
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ingest.ownership_xml import clear_value_memos  # noqa: E402
from ingest.parse import accession_from_name, parse_file  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures"
STAND_IN_ACCESSION = "9999999999-99-000001"  # for fixture names that carry none
DEFAULT_SECONDS = 5.0
DEFAULT_RUNS = 5

# The parser options of ingest.ownership_xml, minus its one speed option (dropping
# whitespace-only text): what "just parse it with lxml, safely" costs.
_CEILING_OPTIONS = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
)


@dataclass
class Corpus:
    documents: list[tuple[bytes, str]]  # (bytes, file name) of the bare ownership XML
    submissions: list[tuple[bytes, str]]  # (bytes, file name) of the full submissions


def load_corpus() -> Corpus:
    def read(paths: list[Path]) -> list[tuple[bytes, str]]:
        return [(path.read_bytes(), path.name) for path in paths]

    return Corpus(
        documents=read(sorted((FIXTURES / "ownership").glob("*.xml"))),
        submissions=read(sorted(p for p in (FIXTURES / "submissions").iterdir() if p.is_file())),
    )


# ---------------------------------------------------------------------------
# Contenders: each is "parse item i of its corpus", plus what to do between passes
# ---------------------------------------------------------------------------


@dataclass
class Contender:
    name: str
    items: list[tuple[bytes, str]]
    parse_one: Callable[[bytes, str], object]
    before_pass: Callable[[], None] = lambda: None
    # Wraps every timed stretch (the edgartools one switches the network off).
    context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
    note: str = ""
    cpu_rates: list[float] = field(default_factory=list)  # docs per CPU second, one per slice
    wall_rates: list[float] = field(default_factory=list)  # docs per wall second, one per slice
    cpu_shares: list[float] = field(default_factory=list)


def _ours(corpus: Corpus) -> Callable[[bytes, str], object]:
    """``parse_file`` as the tests call it (the accession comes from the file name when
    it has one); worked out per file beforehand so only parse_file is timed."""
    accessions = {
        name: None if accession_from_name(name) else STAND_IN_ACCESSION
        for _raw, name in corpus.documents + corpus.submissions
    }

    def parse(raw: bytes, name: str) -> object:
        return parse_file(raw, name, accession=accessions[name])

    return parse


def _ceiling(parser: etree.XMLParser) -> Callable[[bytes, str], object]:
    def parse_and_visit(raw: bytes, name: str) -> object:
        root = etree.fromstring(raw.lstrip(), parser)
        for _element in root.iter():
            pass
        return root

    return parse_and_visit


def _edgartools() -> tuple[Callable[[bytes, str], object] | None, str]:
    """``Ownership.parse_xml`` with its company look-up stubbed, or None and why not."""
    try:
        version = importlib.metadata.version("edgartools")
        parse_xml = importlib.import_module("edgar.ownership").Ownership.parse_xml
    except Exception as exc:  # noqa: BLE001 - any import failure means "not measured"
        return None, f"n/a: edgartools not importable ({type(exc).__name__}: {exc})"
    owner_modules = [
        module
        for module_name, module in list(sys.modules.items())
        if module_name.startswith("edgar.ownership") and module is not None
    ]
    stubbed = []
    for module in owner_modules:
        for look_up in ("Entity", "Company"):
            if hasattr(module, look_up):
                setattr(module, look_up, _not_a_company)
                stubbed.append(f"{module.__name__}.{look_up}")
    if not stubbed:
        return None, f"n/a: edgartools {version} has no Entity/Company look-up to stub"
    return (lambda raw, name: parse_xml(raw)), f"edgartools {version}"


def _not_a_company(cik: object) -> SimpleNamespace:
    """Stands in for edgartools' Entity(cik): an individual, with no HTTP request."""
    return SimpleNamespace(data=SimpleNamespace(is_company=False))


@contextlib.contextmanager
def _network_off() -> Iterator[None]:
    """Any connection attempt fails at once (there is no network here anyway)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access disabled during the parse benchmark")

    saved = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
    socket.socket.connect = refuse  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = saved  # type: ignore[method-assign]


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------


class _Cursor:
    """Walks a contender's corpus round-robin, calling ``before_pass`` at each start."""

    def __init__(self, contender: Contender) -> None:
        self.contender = contender
        self.position = 0

    def parse_for(self, seconds: float) -> tuple[int, float, float]:
        """Parse items until ``seconds`` of wall time pass: (items, wall s, CPU s)."""
        contender = self.contender
        items, parse_one = contender.items, contender.parse_one
        done = 0
        with contender.context():
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            deadline = wall_start + seconds
            while True:
                if self.position == 0:
                    contender.before_pass()
                raw, name = items[self.position]
                parse_one(raw, name)
                done += 1
                self.position = (self.position + 1) % len(items)
                now = time.perf_counter()
                if now >= deadline:
                    break
            cpu = time.process_time() - cpu_start
        return done, now - wall_start, cpu


def measure(contenders: list[Contender], seconds: float, runs: int) -> None:
    """Fill each contender's rates: ``runs`` slices of ``seconds / runs``, interleaved."""
    cursors = [_Cursor(contender) for contender in contenders]
    for cursor in cursors:  # warm-up: imports, caches, lazily built tables
        cursor.parse_for(min(1.0, max(0.2, seconds / 10)))
        cursor.position = 0
    for _ in range(runs):
        for cursor in cursors:
            done, wall, cpu = cursor.parse_for(seconds / runs)
            cursor.contender.cpu_rates.append(done / max(cpu, 1e-9))
            cursor.contender.wall_rates.append(done / wall)
            cursor.contender.cpu_shares.append(cpu / wall)


def run(seconds: float = DEFAULT_SECONDS, runs: int = DEFAULT_RUNS) -> dict[str, Any]:
    """Measure every contender for ``seconds`` each; docs/s (median of ``runs``) and ratios."""
    corpus = load_corpus()
    ours = _ours(corpus)
    contenders = [
        Contender("ours_xml", corpus.documents, ours, clear_value_memos,
                  note=f"parse_file, {len(corpus.documents)} bare ownership XML documents"),
        Contender("ours_submissions", corpus.submissions, ours, clear_value_memos,
                  note=f"parse_file, {len(corpus.submissions)} full submissions (header + XML)"),
        Contender("lxml_ceiling", corpus.documents, _ceiling(etree.XMLParser(**_CEILING_OPTIONS)),
                  note="lxml parse + visit every element, same documents"),
        Contender("lxml_ceiling_no_blank_text", corpus.documents,
                  _ceiling(etree.XMLParser(remove_blank_text=True, **_CEILING_OPTIONS)),
                  note="the same, dropping whitespace-only text as our parse does"),
    ]
    edgartools, edgartools_label = _edgartools()
    if edgartools is not None:
        contenders.append(Contender("edgartools", corpus.documents, edgartools,
                                    context=_network_off,
                                    note=f"{edgartools_label} Ownership.parse_xml, "
                                         "owner look-up stubbed, network off"))
    measure(contenders, seconds, runs)

    def rate(contender: Contender) -> float:
        return statistics.median(contender.cpu_rates)

    by_name = {contender.name: contender for contender in contenders}
    result: dict[str, Any] = {}
    for c in contenders:
        result[f"{c.name}_docs_per_s"] = round(rate(c), 1)
        result[f"{c.name}_docs_per_wall_s"] = round(statistics.median(c.wall_rates), 1)
    result["edgartools_version"] = edgartools_label
    if edgartools is None:
        result["edgartools_docs_per_s"] = edgartools_label
        result["ours_vs_edgartools"] = "n/a"
    else:
        result["ours_vs_edgartools"] = round(rate(by_name["ours_xml"]) / rate(by_name["edgartools"]), 1)
    result["lxml_ceiling_vs_ours"] = round(rate(by_name["lxml_ceiling"]) / rate(by_name["ours_xml"]), 2)
    result["cpu_share_min"] = round(min(min(c.cpu_shares) for c in contenders), 2)
    result["seconds_per_contender"] = seconds
    result["runs"] = runs
    result["corpus"] = f"{len(corpus.documents)} XML documents, {len(corpus.submissions)} submissions"
    result["lxml_version"] = ".".join(map(str, etree.LXML_VERSION[:3]))
    result["libxml2_version"] = ".".join(map(str, etree.LIBXML_VERSION))
    _NOTES.update({c.name: c.note for c in contenders})
    return result


_NOTES: dict[str, str] = {}  # contender name -> what it is, for format_table


def format_table(result: dict[str, Any]) -> str:
    """The result of ``run`` as a table (docs/s per contender, then the two ratios)."""
    rows = [(name, f"{result[f'{name}_docs_per_s']:,.0f}",
             f"{result[f'{name}_docs_per_wall_s']:,.0f}", note) for name, note in _NOTES.items()]
    if "edgartools" not in _NOTES:
        rows.append(("edgartools", "n/a", "n/a", result["edgartools_docs_per_s"]))
    ratio = result["ours_vs_edgartools"]
    rows.append(("ours / edgartools", "n/a" if ratio == "n/a" else f"{ratio:,.1f}x", "",
                 "how many times faster than edgartools (bare XML)"))
    rows.append(("lxml ceiling / ours", f"{result['lxml_ceiling_vs_ours']:.2f}x", "",
                 "how far from parse-and-visit (bare XML)"))
    titles = ("contender", "docs/s", "wall", "notes")
    widths = [max(len(str(row[i])) for row in [*rows, titles]) for i in range(3)]
    header = (f"parse throughput on one core: docs per CPU-second (and per wall-clock second), "
              f"median of {result['runs']} runs of {result['seconds_per_contender']:g} s in all "
              f"per contender; lowest CPU share {result['cpu_share_min']:.0%}; lxml "
              f"{result['lxml_version']}, libxml2 {result['libxml2_version']}, "
              f"Python {sys.version.split()[0]}")

    def line(name: str, value: str, wall: str, note: str) -> str:
        return f"{name:<{widths[0]}}  {value:>{widths[1]}}  {wall:>{widths[2]}}  {note}"

    lines = [header, line(*titles), line(*("-" * w for w in widths), "-----")]
    lines += [line(*row) for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_parse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help=f"wall time per contender [default: {DEFAULT_SECONDS:g}]")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                        help=f"slices per contender, the median is reported [default: {DEFAULT_RUNS}]")
    parser.add_argument("--json", action="store_true", help="print the result dict as JSON too")
    args = parser.parse_args(argv)
    result = run(args.seconds, args.runs)
    print(format_table(result))
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

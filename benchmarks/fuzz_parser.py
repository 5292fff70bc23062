"""Long mutation fuzz of the parser (not part of the test suite).

    python -m benchmarks.fuzz_parser --seconds 120 [--seed 1] [--out DIR] [--budget 2]

Mutates the corpus (tests/fixtures/ownership/*.xml and tests/fixtures/submissions/*) with
the mutators of tests/test_parse_fuzz.py, driven by ``random.Random`` instead of
hypothesis, and calls ``ingest.parse.parse_file`` on each mutant under a time budget.

A *crash* is any of:
- an exception other than ``ParseError`` out of ``parse_file``;
- a ``parse_error`` saying "internal parser error" (a bug the parser's catch-all hid);
- a call over the time budget (a hang);
- a broken invariant of ``tests.test_parse_fuzz.check_result`` (types of every value,
  no NUL, footnote references to real rows, ...);
- a different output for the same input (every ``--determinism-every`` inputs);
- a different output for a *probe* document after other inputs were parsed (every
  ``--history-every`` inputs the probes are re-parsed: the corpus, a few hand-written
  documents and early mutants, against their first parse). The input that changed it is
  then found by bisection in fresh interpreters and saved next to the probe.

Each distinct crash (by exception type and innermost ``ingest`` frame, or by message) is
saved once to the output folder, shrunk by byte-range deletion: ``crash-*.bin`` (the
input) and ``crash-*.txt`` (name, accession, mutations, traceback, a one-line repro).
The process exits 1 when there was a crash, else 0.

Also reported, not crashes: values the "nothing lost" check cannot find anywhere in the
parse (text or footnote references present in the XML that are neither a value, nor a
footnote, nor kept in ``unmapped``), by pattern, with an example each in ``lost-*.txt``.
"""

from __future__ import annotations

import argparse
import faulthandler
import hashlib
import json
import os
import pickle
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from ingest.parse import parse_file
from ingest.records import ParsedFiling, ParseError
from ingest.sgml import extract_ownership_xml
from tests.test_parse_fuzz import (
    ACCESSION,
    HOSTILE_TEXTS,
    ISSUER_REFERENCE,
    MUTATORS,
    OWNERSHIP,
    SUBMISSIONS,
    ParserHang,
    check_result,
    fingerprint,
    mutate,
    time_budget,
)

INGEST_DIR = str(Path(__file__).resolve().parent.parent / "ingest")

# Mutator weights: declarations are always refused, so injecting one often teaches little;
# structure-keeping mutations reach deeper into the document reader.
WEIGHTS = {name: 3 for name in MUTATORS} | {"inject_declaration": 1, "truncate": 2, "splice": 2,
                                            "reencode": 2, "insert_element": 4, "swap_tags": 4,
                                            "nest": 4, "replace_text": 5}
WEIGHTED_MUTATORS = [name for name, weight in WEIGHTS.items() for _ in range(weight)]


class RandomChooser:
    """The mutators' Chooser over random.Random."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, seq):
        return self.rng.choice(seq)

    def text(self, max_size: int) -> str:
        rng = self.rng
        chars = []
        for _ in range(rng.randint(0, max_size)):
            pick = rng.random()
            if pick < 0.4:
                chars.append(chr(rng.randint(0x20, 0x7E)))
            elif pick < 0.5:
                chars.append(chr(rng.randint(0, 0x1F)))
            elif pick < 0.6:
                chars.append(chr(rng.randint(0x80, 0xFF)))
            elif pick < 0.65:
                chars.append(chr(rng.randint(0xD800, 0xDFFF)))  # lone surrogates
            elif pick < 0.9:
                chars.append(chr(rng.randint(0x100, 0xFFFF)))
            else:
                chars.append(chr(rng.randint(0x10000, 0x10FFFF)))
        return "".join(chars)


# ---------------------------------------------------------------------------
# Crash signatures, reproducers, shrinking
# ---------------------------------------------------------------------------


def _ingest_frame(tb) -> str:
    """file:line (function) of the innermost frame in ingest/, else of the innermost frame."""
    frames = traceback.extract_tb(tb)
    inside = [f for f in frames if f.filename.startswith(INGEST_DIR)]
    frame = (inside or frames or [None])[-1]
    if frame is None:
        return "?"
    return f"{Path(frame.filename).name}:{frame.lineno} ({frame.name})"


def _generic(message: str) -> str:
    """A message with its values blanked, so one bug gives one signature."""
    first = (message.strip().splitlines() or [""])[0]
    first = re.sub(r"'[^']*'|\"[^\"]*\"|b'[^']*'|\d+", "_", first)
    return first[:160]


@dataclass
class Outcome:
    kind: str  # parsed | parse_error | no_document | ParseError | crash
    seconds: float
    result: ParsedFiling | ParseError | None = None
    signature: str | None = None
    detail: str | None = None


def run_one(raw: bytes, name: str, accession: str | None, budget: float, determinism: bool) -> Outcome:
    start = time.perf_counter()
    try:
        with time_budget(budget):
            try:
                result: ParsedFiling | ParseError = parse_file(raw, name, accession=accession)
            except ParseError as exc:
                result = exc
    except ParserHang as exc:
        where = _ingest_frame(exc.__cause__.__traceback__) if exc.__cause__ else "?"
        return Outcome("crash", time.perf_counter() - start, None, f"hang in {where}",
                       "".join(traceback.format_exception(exc)))
    except Exception as exc:  # noqa: BLE001 - this is what we are looking for
        return Outcome("crash", time.perf_counter() - start, None,
                       f"{type(exc).__name__} in {_ingest_frame(exc.__traceback__)}",
                       "".join(traceback.format_exception(exc)))
    seconds = time.perf_counter() - start
    try:
        check_result(result, raw)
    except AssertionError as exc:
        return Outcome("crash", seconds, result, f"invariant: {_generic(str(exc))}",
                       "".join(traceback.format_exception(exc)))
    if determinism:
        try:
            with time_budget(budget):
                again = parse_file(raw, name, accession=accession)
        except ParseError as exc:
            again = exc
        except Exception as exc:  # noqa: BLE001 - a second run that crashes is non-deterministic too
            again = exc
        if isinstance(again, ParseError | ParsedFiling):
            same = fingerprint(again) == fingerprint(result)
        else:
            same = False
        if not same:
            return Outcome("crash", seconds, result, "nondeterministic output",
                           f"first: {fingerprint(result)[:2000]}\nagain: {str(again)[:2000]}")
    if isinstance(result, ParseError):
        return Outcome("ParseError", seconds, result)
    if result.document is not None:
        return Outcome("parsed", seconds, result)
    if result.parse_error is not None:
        return Outcome("parse_error", seconds, result)
    return Outcome("no_document", seconds, result)


def shrink(raw: bytes, name: str, accession: str | None, budget: float, signature: str,
           seconds: float) -> bytes:
    """Greedy byte-range deletion keeping the same crash signature, within ``seconds``."""
    deadline = time.monotonic() + seconds
    chunk = max(1, len(raw) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        at, progress = 0, False
        while at < len(raw) and time.monotonic() < deadline:
            candidate = raw[:at] + raw[at + chunk:]
            outcome = run_one(candidate, name, accession, budget, determinism=False)
            if outcome.kind == "crash" and outcome.signature == signature:
                raw, progress = candidate, True
            else:
                at += chunk
        if not progress:
            chunk //= 2
    return raw


def save_crash(out: Path, raw: bytes, name: str, accession: str | None, log: list[str],
               outcome: Outcome) -> Path:
    digest = hashlib.sha256(outcome.signature.encode()).hexdigest()[:10]
    data = out / f"crash-{digest}.bin"
    data.write_bytes(raw)
    repro = (f"python -c \"from ingest.parse import parse_file; "
             f"parse_file(open('{data}', 'rb').read(), {name!r}, accession={accession!r})\"")
    (out / f"crash-{digest}.txt").write_text(
        f"signature: {outcome.signature}\nname: {name}\naccession: {accession}\n"
        f"mutations: {log}\nsize: {len(raw):,} bytes\nfirst bytes: {raw[:300]!r}\n\n"
        f"reproduce:\n  {repro}\n\n{outcome.detail}\n", encoding="utf-8")
    return data


# ---------------------------------------------------------------------------
# "Nothing lost": every text and footnote reference of the XML is somewhere in the parse
# ---------------------------------------------------------------------------

_SAFE_PARSER = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                    remove_comments=True, remove_pis=True)
_NEVER_STORED = {"rptOwnerCcc"}


def _reparse(xml: bytes):
    xml = xml.lstrip()
    try:
        return etree.fromstring(xml, etree.XMLParser(**_SAFE_PARSER))
    except etree.XMLSyntaxError:
        pass
    # As the parser does: valid UTF-8 kept, only the stray bytes read as cp1252 (the error
    # handler is registered by ingest.ownership_xml), else the whole document as cp1252.
    try:
        text = xml.decode("utf-8", errors="ownership-xml-cp1252-bytes")
        return etree.fromstring(text.encode("utf-8"), etree.XMLParser(encoding="utf-8", **_SAFE_PARSER))
    except (etree.XMLSyntaxError, LookupError, ValueError):
        pass
    try:
        return etree.fromstring(xml, etree.XMLParser(encoding="cp1252", **_SAFE_PARSER))
    except (etree.XMLSyntaxError, LookupError, ValueError):
        return None


def _typed_forms(text: str) -> list[object]:
    forms: list[object] = []
    try:
        forms.append(Decimal(text.replace(",", "")))
    except (InvalidOperation, ValueError):
        pass
    try:
        forms.append(date.fromisoformat(text[:10]))
    except ValueError:
        pass
    if text.lower() in ("1", "true", "0", "false"):
        forms.append(text.lower() in ("1", "true"))
    return forms


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def lost_values(raw: bytes, result: ParsedFiling) -> list[tuple[str, str]]:
    """(pattern, text) of every text / footnote reference in the XML the parse does not hold."""
    doc = result.document
    xml = extract_ownership_xml(raw) if result.source_kind == "submission" else raw
    root = _reparse(xml) if xml else None
    if doc is None or root is None:
        return []
    strings: list[str] = []
    typed: set[object] = set()
    for row in [doc.filing, *doc.owners, *(r for rows in doc.entries.values() for r in rows)]:
        for value in row.values():
            (strings.append(value) if isinstance(value, str) else typed.add(value))
    for name, signed in doc.signatures:
        strings.append(name or "")
        typed.add(signed)
    strings += [t for f in doc.footnotes for t in f]
    strings += [u.raw_value for u in doc.unmapped]
    haystack = "\x00".join(strings)
    referenced = Counter(r.footnote_id for r in doc.footnote_refs)
    # an unknown element is kept as its XML, footnote references included
    kept = "\x00".join(u.path + "\x00" + u.raw_value for u in doc.unmapped)

    lost: list[tuple[str, str]] = []
    skip: set = set()
    for elem in root.iter():
        if not isinstance(elem.tag, str):
            continue
        tag = _local(elem.tag)
        parent = elem.getparent()
        if tag in _NEVER_STORED or (parent is not None and parent in skip):
            skip.add(elem)
            continue
        path = "/".join(_local(a.tag) for a in reversed(list(elem.iterancestors())) if isinstance(a.tag, str))
        path = f"{path}/{tag}" if path else tag
        if tag == "footnoteId":
            footnote_id = (elem.get("id") or "").strip()
            if footnote_id:
                if referenced[footnote_id] > 0:
                    referenced[footnote_id] -= 1
                elif footnote_id not in kept and escape(footnote_id) not in kept:
                    lost.append((f"{path} (footnote reference)", footnote_id))
        pieces = [(elem.text, path + (" (text beside child elements)" if len(elem) else ""))]
        if parent is not None:
            pieces.append((elem.tail, f"{path} (tail text)"))
        for text, pattern in pieces:
            text = (text or "").strip()
            if not text or text in haystack or escape(text) in haystack:
                continue
            if any(form in typed for form in _typed_forms(text)):
                continue
            lost.append((pattern, text))
    return lost


def _loss_pattern(pattern: str) -> str:
    """Collapse the paths of a loss to a few levels, so one cause gives one line."""
    parts = pattern.split("/")
    return "/".join(parts[:1] + ["…"] + parts[-2:]) if len(parts) > 4 else pattern


# ---------------------------------------------------------------------------
# History: does parsing one input change how another parses later?
# ---------------------------------------------------------------------------

# Hand-written probes with structures the corpus lacks (module-level state keyed by tag
# names would show up on them): issuer-level and group-level references, a namespaced
# document, legacy X0101 entries, fields at odd levels.
PROBES: list[tuple[str, bytes]] = [
    ("probe-issuer-reference.xml", ISSUER_REFERENCE),
    ("probe-namespaced.xml",
     b'<ownershipDocument xmlns="urn:x"><issuer><issuerCik>1</issuerCik><footnoteId id="F1"/></issuer>'
     b"<reportingOwner><reportingOwnerId><rptOwnerCik>2</rptOwnerCik></reportingOwnerId><footnoteId "
     b'id="F2"/></reportingOwner><remarks>r</remarks></ownershipDocument>'),
    ("probe-groups.xml",
     b"<ownershipDocument><periodOfReport><value>2024-01-02</value><footnoteId id=\"F1\"/></periodOfReport>"
     b"<nonDerivativeTable><footnoteId id=\"F2\"/><nonDerivativeSecurity><securityTitle><value>C</value>"
     b"</securityTitle><transactionCoding><transactionCode>P</transactionCode><footnoteId id=\"F3\"/>"
     b"</transactionCoding><transactionAmounts><transactionShares><footnoteId id=\"F4\"/></transactionShares>"
     b"</transactionAmounts></nonDerivativeSecurity><derivativeSecurity><securityTitle><value>O</value>"
     b"</securityTitle></derivativeSecurity></nonDerivativeTable><ownerSignature><signatureName>S"
     b"</signatureName><footnoteId id=\"F5\"/></ownerSignature><value>v</value><footnoteId2>x"
     b"</footnoteId2></ownershipDocument>"),
]

_HISTORY_CHECK = r"""
import pickle, sys
sys.path.insert(0, sys.argv[2])
from ingest.parse import parse_file
from ingest.records import ParseError
from tests.test_parse_fuzz import fingerprint
victim, inputs = pickle.load(open(sys.argv[1], "rb"))
def run(item):
    try:
        return fingerprint(parse_file(item[1], item[0], accession=item[2]))
    except ParseError as exc:
        return fingerprint(exc)
    except Exception as exc:
        return repr(exc)
before = run(victim)
for item in inputs:
    run(item)
sys.exit(0 if run(victim) == before else 3)
"""


def _changes_victim(victim, inputs, workdir: Path) -> bool:
    """In a fresh interpreter: does parsing ``inputs`` change how ``victim`` parses?"""
    data = workdir / "history-check.pkl"
    data.write_bytes(pickle.dumps((victim, inputs)))
    root = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run([sys.executable, "-c", _HISTORY_CHECK, str(data), root], timeout=600)
    return done.returncode == 3


def find_poison(victim, window, workdir: Path):
    """The first input of ``window`` after which ``victim`` parses differently, or None."""
    try:
        if not _changes_victim(victim, window, workdir):
            return None  # not reproducible from this window alone (older state, or not real)
        lo, hi = 0, len(window)  # the prefix window[:hi] poisons, window[:lo] does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _changes_victim(victim, window[:mid], workdir):
                hi = mid
            else:
                lo = mid
        return window[hi - 1]
    finally:
        (workdir / "history-check.pkl").unlink(missing_ok=True)


def save_history_crash(out: Path, victim, poison, detail: str) -> Path:
    digest = hashlib.sha256(victim[1] + (poison[1] if poison else b"")).hexdigest()[:10]
    (out / f"history-{digest}-victim.bin").write_bytes(victim[1])
    if poison:
        (out / f"history-{digest}-poison.bin").write_bytes(poison[1])
    text = (f"victim: {victim[0]} (accession {victim[2]}), history-{digest}-victim.bin\n"
            f"poison: {poison[0] if poison else 'not isolated'}, history-{digest}-poison.bin\n"
            "reproduce: parse the victim, then the poison, then the victim again in one process\n\n"
            f"{detail}\n")
    path = out / f"history-{digest}.txt"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


@dataclass
class Stats:
    tried: int = 0
    outcomes: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    crashes: Counter = field(default_factory=Counter)
    crash_files: dict = field(default_factory=dict)
    losses: Counter = field(default_factory=Counter)
    lossy_documents: int = 0
    mutators: Counter = field(default_factory=Counter)
    slowest: tuple[float, str] = (0.0, "")
    seconds: float = 0.0
    paused: float = 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="how long to fuzz (default 120)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
    parser.add_argument("--out", type=Path, default=None, help="folder for reproducers (default: a temp dir)")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per parse before it is a hang")
    parser.add_argument("--max-steps", type=int, default=5, help="mutations per input: 1..N")
    parser.add_argument("--determinism-every", type=int, default=10, help="re-parse every N-th input")
    parser.add_argument("--history-every", type=int, default=1000,
                        help="re-parse the probe documents every N inputs (0: never)")
    parser.add_argument("--shrink-seconds", type=float, default=20.0, help="time to shrink each new crash")
    parser.add_argument("--no-loss-check", action="store_true", help="skip the nothing-lost check")
    args = parser.parse_args(argv)

    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    chooser = RandomChooser(rng)
    out = args.out or Path(tempfile.mkdtemp(prefix="fuzz_parser-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"fuzz_parser: seed {seed}, {args.seconds:g} s, budget {args.budget:g} s/parse, "
          f"{len(OWNERSHIP)} XML + {len(SUBMISSIONS)} submission seeds, reproducers in {out}", flush=True)

    # A hang the signal cannot interrupt (C code) is caught by faulthandler, which kills the
    # process: the input in flight is on disk for the post-mortem.
    in_flight = out / "in-flight.bin"
    in_flight_meta = out / "in-flight.json"
    fd = os.open(in_flight, os.O_RDWR | os.O_CREAT, 0o644)

    seeds = [(n, r) for n, r in OWNERSHIP.items()] + [(n, r) for n, r in SUBMISSIONS.items()]
    pool: list[tuple[str, bytes]] = []  # mutants that still parsed: mutated further
    stats = Stats()
    # (name, raw, accession) -> its first parse; parsed before any mutant
    probes: dict[tuple[str, bytes, str | None], str] = {}
    for name, raw in [*seeds, *PROBES]:
        probes[(name, raw, ACCESSION)] = _fingerprint_of(name, raw, ACCESSION)
    window: list[tuple[str, bytes, str | None]] = []  # inputs since the last history check
    started = time.monotonic()
    paused = 0.0  # time spent shrinking and bisecting does not count as fuzzing time
    next_report = started + 10
    while time.monotonic() - paused < started + args.seconds:
        if pool and rng.random() < 0.3:
            name, raw = rng.choice(pool)
        else:
            name, raw = rng.choice(seeds)
        steps = rng.randint(1, args.max_steps)
        mutated, log = mutate(chooser, raw, steps, texts=HOSTILE_TEXTS, mutators=WEIGHTED_MUTATORS)
        stats.mutators.update(log)
        pick = rng.random()
        accession, file_name = ((ACCESSION, name) if pick < 0.7 else (None, name) if pick < 0.9
                                else (None, "upload.txt"))

        os.ftruncate(fd, 0)
        os.pwrite(fd, mutated, 0)
        in_flight_meta.write_text(json.dumps({"name": file_name, "accession": accession, "mutations": log}))
        faulthandler.dump_traceback_later(max(30.0, args.budget * 15), exit=True)
        outcome = run_one(mutated, file_name, accession, args.budget,
                          determinism=stats.tried % args.determinism_every == 0)
        faulthandler.cancel_dump_traceback_later()

        stats.tried += 1
        stats.outcomes[outcome.kind] += 1
        if args.history_every:
            window.append((file_name, mutated, accession))
            room = len(probes) < len(seeds) + len(PROBES) + 100  # up to 100 mutants as probes
            if outcome.kind == "parsed" and room and rng.random() < 0.2:
                probes[(file_name, mutated, accession)] = _fingerprint_of(file_name, mutated, accession)
            if len(window) >= args.history_every:
                pause = time.monotonic()
                check_history(probes, window, stats, out)
                window = []
                paused += time.monotonic() - pause
        if outcome.seconds > stats.slowest[0]:
            stats.slowest = (outcome.seconds, f"{file_name} after {log}, {len(mutated):,} bytes")
        if outcome.kind == "crash":
            first = outcome.signature not in stats.crashes
            stats.crashes[outcome.signature] += 1
            if first:
                print(f"  CRASH {outcome.signature}  ({file_name}, {log})", flush=True)
                pause = time.monotonic()
                small = shrink(mutated, file_name, accession, args.budget, outcome.signature,
                               args.shrink_seconds)
                again = run_one(small, file_name, accession, args.budget, determinism=False)
                if again.signature != outcome.signature:
                    small, again = mutated, outcome
                stats.crash_files[outcome.signature] = save_crash(
                    out, small, file_name, accession, log, again)
                paused += time.monotonic() - pause
        elif outcome.kind == "parse_error":
            stats.errors[_generic(outcome.result.parse_error)[:70]] += 1
        elif outcome.kind == "ParseError":
            stats.errors["ParseError: " + _generic(str(outcome.result)).split(": ", 1)[-1][:60]] += 1
        elif outcome.kind == "parsed":
            if len(mutated) > 1_000_000:
                pass  # mutate it no further: duplications would keep growing it
            elif len(pool) < 500:
                pool.append((name, mutated))
            elif rng.random() < 0.1:
                pool[rng.randrange(len(pool))] = (name, mutated)
            if not args.no_loss_check:
                lost = lost_values(mutated, outcome.result)
                if lost:
                    stats.lossy_documents += 1
                for pattern, text in lost:
                    key = _loss_pattern(pattern)
                    if key not in stats.losses:
                        digest = hashlib.sha256(key.encode()).hexdigest()[:10]
                        (out / f"lost-{digest}.txt").write_text(
                            f"pattern: {key}\nlost text: {text[:500]!r}\nname: {file_name}\n"
                            f"mutations: {log}\ninput: lost-{digest}.bin\n", encoding="utf-8")
                        (out / f"lost-{digest}.bin").write_bytes(mutated)
                    stats.losses[key] += 1
        now = time.monotonic()
        if now >= next_report:
            rate = stats.tried / max(now - started - paused, 1e-9)
            print(f"  {now - started - paused:5.0f} s: {stats.tried:,} inputs ({rate:,.0f}/s), "
                  f"{sum(stats.crashes.values())} crashes ({len(stats.crashes)} distinct)", flush=True)
            next_report = now + 10
    if window:
        check_history(probes, window, stats, out)
    stats.seconds = time.monotonic() - started - paused
    stats.paused = paused
    os.close(fd)
    in_flight.unlink(missing_ok=True)
    in_flight_meta.unlink(missing_ok=True)
    report(stats, out)
    return 1 if stats.crashes else 0


def _fingerprint_of(name: str, raw: bytes, accession: str | None) -> str:
    try:
        return fingerprint(parse_file(raw, name, accession=accession))
    except ParseError as exc:
        return fingerprint(exc)
    except Exception as exc:  # noqa: BLE001 - a crash is reported by run_one already
        return repr(exc)


def check_history(probes: dict, window: list, stats: Stats, out: Path) -> None:
    """Re-parse every probe; one that now parses differently is a crash (state leaked)."""
    for probe, first in list(probes.items()):
        now = _fingerprint_of(*probe)
        if now == first:
            continue
        probes[probe] = now  # report each change once
        signature = "history-dependent output (an earlier input changed a later parse)"
        print(f"  CRASH {signature}: probe {probe[0]}; bisecting {len(window)} inputs…", flush=True)
        poison = find_poison(probe, window, out)
        detail = f"first parse:\n{first[:3000]}\n\nlater parse:\n{now[:3000]}"
        path = save_history_crash(out, probe, poison, detail)
        stats.outcomes["crash"] += 1
        if signature not in stats.crashes:
            stats.crash_files[signature] = path
        stats.crashes[signature] += 1
        print(f"        poison: {poison[0] if poison else 'not isolated'} -> {path}", flush=True)


def report(stats: Stats, out: Path) -> None:
    o = stats.outcomes
    print(f"\ntried {stats.tried:,} mutated inputs in {stats.seconds:.0f} s of fuzzing "
          f"({stats.tried / max(stats.seconds, 1e-9):,.0f}/s; plus {stats.paused:.0f} s shrinking "
          "crashes and bisecting history changes)")
    print(f"  parsed (document returned)        {o['parsed']:>8,}")
    print(f"  parse_error (no document)         {o['parse_error']:>8,}")
    print(f"  submission without ownership XML  {o['no_document']:>8,}")
    print(f"  ParseError raised                 {o['ParseError']:>8,}")
    print(f"  CRASHES                           {o['crash']:>8,}  ({len(stats.crashes)} distinct)")
    print(f"  slowest call: {stats.slowest[0]:.3f} s ({stats.slowest[1]})")
    print("\nmost common parse errors:")
    for message, count in stats.errors.most_common(12):
        print(f"  {count:>7,}  {message}")
    print("\nmutations applied: " + ", ".join(f"{k} {v:,}" for k, v in stats.mutators.most_common()))
    if stats.losses:
        print(f"\nnothing-lost check: {stats.lossy_documents:,} parsed documents lost a value; patterns:")
        for pattern, count in stats.losses.most_common(15):
            print(f"  {count:>7,}  {pattern}")
    if stats.crashes:
        print("\nCRASHES (reproducers, shrunk):")
        for signature, count in stats.crashes.most_common():
            print(f"  {count:>7,}  {signature}\n           {stats.crash_files[signature]}")
    print(f"\nreproducers and examples: {out}")


if __name__ == "__main__":
    sys.exit(main())

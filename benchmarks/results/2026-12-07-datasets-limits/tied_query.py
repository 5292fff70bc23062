"""Experiment (issue 13, migration 0016): the amendments tied to a batch's filings, found
through the GIN index on ``filing_summaries.tied_accessions`` (``&&``, as migration 0015's
refresh did) and by joining the ambiguous amendments' tied originals with the batch (0016):
same rows, execution times, for batches of 30,000 and 60,000 filings of a kept generated
database (``generate_million --keep``) plus the originals of a third of its ties.

    python benchmarks/results/2026-12-07-datasets-limits/tied_query.py URL
"""

from __future__ import annotations

import sys

import psycopg

BY_GIN = ("SELECT s.accession_number FROM filing_summaries s "
          "WHERE s.tied_accessions IS NOT NULL AND s.tied_accessions && %(a)s::text[]")
BY_JOIN = ("SELECT s.accession_number FROM filing_summaries s "
           "CROSS JOIN LATERAL unnest(s.tied_accessions) AS t(original) "
           "JOIN unnest(%(a)s::text[]) AS b(accession_number) ON b.accession_number = t.original "
           "WHERE s.amendment_match_rule = 'ambiguous'")


def main() -> None:
    with psycopg.connect(sys.argv[1]) as conn:
        conn.execute("SET jit = off")
        filings = conn.execute("SELECT count(*) FROM filings").fetchone()[0]
        ambiguous = conn.execute("SELECT count(*) FROM filing_summaries "
                                 "WHERE amendment_match_rule = 'ambiguous'").fetchone()[0]
        print(f"{filings:,} filings, {ambiguous} ambiguous amendments")
        tied = [a for (a,) in conn.execute("SELECT unnest(tied_accessions) FROM filing_summaries "
                                           "WHERE amendment_match_rule = 'ambiguous'")]
        for size in (30_000, 60_000):
            batch = tied[::3] + [a for (a,) in conn.execute(
                "SELECT accession_number FROM filings ORDER BY filed_date DESC NULLS LAST "
                "LIMIT %s", (size,))]
            found = {}
            for label, query in (("GIN (0015)", BY_GIN), ("join (0016)", BY_JOIN)):
                found[label] = {a for (a,) in conn.execute(query, {"a": batch})}
                plan = conn.execute("EXPLAIN (ANALYZE) " + query, {"a": batch}).fetchall()
                took = next(line for (line,) in plan if line.startswith("Execution Time"))
                print(f"{len(batch):,} filings, {label}: {len(found[label])} amendments; {took}")
            print("  same rows:", len(set(map(frozenset, found.values()))) == 1)


if __name__ == "__main__":
    main()

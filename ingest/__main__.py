"""``edgar-insider`` and ``python -m ingest``: the command line's entry point.

Deliberately tiny. Worker processes are spawned, and a spawned process first re-imports
the parent's main script (the ``edgar-insider`` console script imports this module); were
that ``ingest.cli``, every parse worker would load click, psycopg, SQLAlchemy and
requests for nothing (~50 MB each). ``python -m ingest`` is exempt from the re-import
altogether. ``python -m ingest.cli`` works too, with heavier workers.
"""

from __future__ import annotations


def main() -> None:
    from ingest.cli import main as cli_main  # late: see the module docstring

    cli_main()


if __name__ == "__main__":
    main()

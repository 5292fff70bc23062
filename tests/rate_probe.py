"""One process of ``tests/test_rate_machine.py``: fetch paths from the stand-in with an
EdgarClient on the shared limiter (``EDGAR_RATE_STATE``), then report what it did.

    python -m tests.rate_probe '{"base_url": ..., "paths": [...], "threads": 2, ...}'

Prints "ready", waits for a line on stdin (so the processes start together), fetches, and
prints one JSON line: its grant times, body sizes, blocks met and the pause end it knows.
With ``"then"`` (more paths), it prints "waiting" after ``paths`` and fetches ``then`` only
after a second line on stdin: the test decides, from what it observed, when that happens.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    from ingest.config import EdgarSettings
    from ingest.fetch import EdgarClient, RetryPolicy

    settings = EdgarSettings(
        user_agent="Edgar Insider Tests tests@example.org",
        base_url=spec["base_url"],
        data_url=spec["base_url"],
        block_pause_seconds=spec.get("block_pause", 1.0),
    )
    retry = RetryPolicy(max_attempts=4, backoff_initial=0.05, backoff_max=0.2, jitter=0.0)
    with EdgarClient(settings, retry=retry) as client:  # the machine-wide shared limiter
        print("ready", flush=True)
        sys.stdin.readline()
        with ThreadPoolExecutor(spec["threads"]) as pool:
            sizes = list(pool.map(lambda path: len(client.get(path)), spec["paths"]))
            if "then" in spec:
                print("waiting", flush=True)
                sys.stdin.readline()
                sizes += pool.map(lambda path: len(client.get(path)), spec["then"])
        report = {
            "grants": client.limiter.grants,
            "sizes": sizes,
            "blocks": client.stats.blocks,
            "paused_until": client.limiter.paused_until,
            "state": str(client.limiter.state_path),
        }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

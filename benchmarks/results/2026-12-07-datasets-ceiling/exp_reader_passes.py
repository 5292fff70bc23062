"""The reader process's work alone (``QuarterFile.batches``, encoding, pickling), with
``filings_per_pass`` filings per pass over the zip: CPU seconds and peak memory.

    python exp_reader_passes.py ZIP 30000   # the default: two passes for 60,000 filings
    python exp_reader_passes.py ZIP 60000   # one pass
"""

from __future__ import annotations

import pickle
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from ingest.dataset_load import _to_wire, fewer_collections  # noqa: E402
from ingest.datasets import QuarterFile  # noqa: E402
from ingest.load import encode_children  # noqa: E402


def main() -> None:
    data = Path(sys.argv[1]).read_bytes()
    per_pass = int(sys.argv[2])
    started = time.process_time()
    with fewer_collections(), QuarterFile(data, "2024q3", filings_per_pass=per_pass) as dataset:
        for batch in dataset.batches(2000):
            pickle.dumps(("batch", [_to_wire(encode_children(item)) for item in batch]))
    print({"filings_per_pass": per_pass, "cpu_s": round(time.process_time() - started, 2),
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024})


if __name__ == "__main__":
    main()

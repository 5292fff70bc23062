"""A work function for ``tests/test_worker.py``: what a spawned parse worker has imported."""

import sys


def loaded_modules(_task: object) -> list[str]:
    return sorted(sys.modules)

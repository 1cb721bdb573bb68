"""Shared by the fuzz tests: the example budget, and a tally of what ran.

``GOEMU_FUZZ_EXAMPLES`` sets hypothesis' max_examples per property: a bounded
budget (60) in ``make emu-test``, a larger one with ``make fuzz`` (3000).
Each property counts its inputs and the outcome kinds it saw; with
``GOEMU_FUZZ_REPORT=FILE`` the counts are appended to FILE as JSON lines, which is
how docs/hardening.md's table was made."""
from __future__ import annotations

import json
import os
from collections import Counter

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("GOEMU_FUZZ_EXAMPLES", "60"))

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 60,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])


class Tally:
    """Counts inputs and outcomes of one property."""

    def __init__(self, name: str):
        self.name = name
        self.outcomes: Counter[str] = Counter()

    def __call__(self, outcome: str) -> None:
        self.outcomes[outcome] += 1

    def write(self) -> None:
        path = os.environ.get("GOEMU_FUZZ_REPORT")
        if path:
            with open(path, "a") as f:
                f.write(json.dumps({"property": self.name, "inputs": sum(self.outcomes.values()),
                                    "outcomes": dict(self.outcomes.most_common())}) + "\n")

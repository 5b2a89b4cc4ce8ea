import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest


@pytest.fixture(scope="session")
def shipped_gate():
    """The gate run on the shipped manifest (every shipped design explored at its default
    bounds, every shipped counterexample replayed): computed once per test session."""
    from daxcheck.checker.gate import DEFAULT_MANIFEST, run_gate
    from daxcheck.properties import PROPERTIES
    from daxcheck.spec.designs import DESIGNS

    shipped = {
        "designs": list(DESIGNS),
        "properties": [n for n, p in PROPERTIES.items() if p.origin == "shipped"],
    }
    return run_gate(DEFAULT_MANIFEST, DESIGNS, PROPERTIES, require_all=shipped)

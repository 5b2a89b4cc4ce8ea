"""Every shipped design registered in :data:`~daxcheck.spec.designs.DESIGNS`, in a fixed
order: the seed designs (:mod:`.seeds`), the history designs (:mod:`.history`), the race
designs (:mod:`.race_designs`), the coverage scopes (:mod:`.scopes`).  Imported by the
package, so ``DESIGNS`` is complete whichever ``daxcheck.spec`` module is imported first; the design modules import only
:mod:`.designs`, never each other's importer (no cycle)."""

from __future__ import annotations

# The import order is the registration order: the seed designs lead.
from . import designs, seeds

# isort: split
from . import history, race_designs, scopes
from .designs import DESIGNS

__all__ = ["DESIGNS", "designs", "history", "race_designs", "scopes", "seeds"]

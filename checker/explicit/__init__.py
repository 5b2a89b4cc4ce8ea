"""The explicit-state engine: breadth-first exploration of concrete states.

``explore.py`` is the entry point (budgets, and the reference per-state explorer the tests
compare against); ``levels.py`` the default batched explorer: frontier chunks through the
array backend of the vocabulary (``batched.py``), bit-packed states (``packing.py``), exact
memo tables per read set (``keytable.py``), a fingerprint set (``fpset.py``), long-lived
arrays outside the heap (``memory.py``) and symmetry reduction (``symmetry.py``);
``store.py`` the reference explorer's state store; ``transitions.py`` read/write sets of
actions and the reference's memoised successors; ``readset.py`` the taint backend of the
vocabulary that computes those read and write sets.
"""

from .explore import Budget, explore

__all__ = ["Budget", "explore"]

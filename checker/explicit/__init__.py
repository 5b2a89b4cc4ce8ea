"""The explicit-state engine: breadth-first exploration of concrete states.

``explore.py`` is the search strategy (level-by-level BFS, shortest counterexamples, budgets);
``store.py`` the visited-state store with parent pointers; ``transitions.py`` memoised
successors; ``readset.py`` the taint backend of the vocabulary that computes the read and
write sets both memoisations rely on.
"""
from .explore import Budget, explore

__all__ = ["Budget", "explore"]

"""Read-set analysis: which state fields a predicate can read, for any state.

The predicate is evaluated once on a *taint* state whose every field is a symbol
:class:`Dep` carrying the set of offsets it was computed from, through the vocabulary's
symbolic path (every branch of ``If``/``when`` and every element of a ``select`` is
visited).  The union of offsets in the result is a sound over-approximation of what the
predicate reads.  The explorer memoises properties on that projection of the state.  A
predicate that uses a Python construct on a state value (``if``, ``and``, indexing) raises
:class:`~daxcheck.spec.vocab.SymbolicUseError` here and is simply not memoised.
"""

from __future__ import annotations

from contextlib import contextmanager

from daxcheck.spec import vocab
from daxcheck.spec.vocab import SymbolicUseError

_EMPTY = frozenset()


class Dep:
    """A symbolic value standing for "some function of the offsets in ``offs``"."""

    __slots__ = ("offs",)
    TAINT = True
    """Marks a taint value for :mod:`daxcheck.usercode` (which imports no engine)."""

    def __init__(self, offs):
        self.offs = offs

    def _op(self, other=None):
        # Always a new object: identity means "this field was not changed" to the
        # write-set analysis in transitions.py.
        return Dep(self.offs | other.offs) if isinstance(other, Dep) else Dep(self.offs)

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _op
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _op
    __hash__ = None

    def __bool__(self):
        raise SymbolicUseError(
            "a Python `if`/`and`/`or`/`not` (truth test) on a state value; use If/And/Or/Not/when"
        )

    def __index__(self):
        raise SymbolicUseError("a state value used as a Python index; use select()/store()")


def _union(xs):
    offs = _EMPTY
    for x in xs:
        if isinstance(x, Dep):
            offs = offs | x.offs
    return Dep(offs)


class _TaintBackend:
    def __init__(self):
        self.guards = []

    def ite(self, c, a, b):
        return _union((c, a, b))

    def and_(self, cs):
        return _union(cs)

    or_ = and_

    def not_(self, c):
        return _union((c,))

    def require(self, c):
        self.guards.append(c)
        return True


class TaintState:
    """A state of ``width`` fields where field ``o`` reads as ``Dep({o})``."""

    TAINT = True
    """Marks a taint state for :mod:`daxcheck.usercode` (which imports no engine)."""

    def __init__(self, width):
        self._vals = [Dep(frozenset((o,))) for o in range(width)]

    def __getitem__(self, o):
        return self._vals[o]

    def __len__(self):
        return len(self._vals)


@contextmanager
def taint_backend():
    """Install the taint backend in the vocabulary for the duration of the block."""
    prev = vocab._backend
    b = _TaintBackend()
    vocab.set_backend(b)
    try:
        yield b
    finally:
        vocab.set_backend(prev)


def read_set(pred, L) -> tuple[int, ...] | None:
    """Sorted offsets that ``pred(L, s)`` may read, or None if it cannot be analysed (it
    uses a construct outside the vocabulary)."""
    with taint_backend():
        try:
            r = pred(L, TaintState(L.width))
        except SymbolicUseError:
            return None
    return tuple(sorted(r.offs)) if isinstance(r, Dep) else ()

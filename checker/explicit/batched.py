"""The batched (array) backend of the vocabulary: one transition or property evaluated on
``k`` states at once.

A *batch state* is a list of ``width`` :class:`Col` values; column ``c`` holds field ``c``
of ``k`` states as a NumPy array.  Running an action's ``apply`` (or a property) on it
through :mod:`daxcheck.spec.vocab` with :class:`ArrayBackend` installed evaluates all
``k`` rows in one pass: ``If`` is ``np.where``, ``And``/``Or``/``Not`` are elementwise,
``require`` collects a row mask, ``select``/``store`` with an index read from the state are
the vocabulary's if-chains over the finite domain (each link one ``np.where``),
``ForAll``/``Exists``/``Count`` reduce over their Python domain.  This is the fourth
backend next to plain ints (reference), taint symbols (:mod:`.readset`) and Z3 terms
(:mod:`daxcheck.checker.symbolic.smt`); the spec code is the same.

:class:`Col` behaves like a Python int under arithmetic (bools add as 0/1) and refuses the
constructs outside the vocabulary (truth tests, use as a Python index) with
:class:`~daxcheck.spec.vocab.SymbolicUseError`, so a transition written with plain Python
branching on state is detected and evaluated row by row instead (:func:`evaluate_rows`).

Only this module and the explorer touch NumPy arrays of states; a different array library
(CuPy, JAX) would replace ``np`` here and in the explorer's gathers and sorts.
"""

from __future__ import annotations

import operator

import numpy as np

from daxcheck.spec import vocab
from daxcheck.spec.vocab import SymbolicUseError

I64 = np.int64


class Col:
    """``k`` values of one field (or of an expression over fields), as an int64 or bool
    NumPy array; arithmetic and comparisons are elementwise and return a Col."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __bool__(self):
        raise SymbolicUseError(
            "a Python `if`/`and`/`or`/`not` (truth test) on a state value; use If/And/Or/Not/when"
        )

    def __index__(self):
        raise SymbolicUseError("a state value used as a Python index; use select()/store()")

    def __int__(self):
        raise SymbolicUseError("int() of a state value")

    __hash__ = None

    def __iter__(self):
        raise SymbolicUseError("iteration over a state value")


def _num(x):
    """The NumPy operand of ``x`` with Python int semantics (bools count as 0/1)."""
    if type(x) is Col:
        x = x.v
        return x.astype(I64) if x.dtype == np.bool_ else x
    return int(x) if type(x) is bool else x


def _arith(op, *, reflected=False):
    if reflected:
        return lambda self, other: Col(op(_num(other), _num(self)))
    return lambda self, other: Col(op(_num(self), _num(other)))


def _cmp(op):
    return lambda self, other: Col(op(_num(self), _num(other)))


for _name, _op in (
    ("add", operator.add),
    ("sub", operator.sub),
    ("mul", operator.mul),
    ("floordiv", operator.floordiv),
    ("mod", operator.mod),
    ("and", operator.and_),
    ("or", operator.or_),
    ("xor", operator.xor),
    ("lshift", operator.lshift),
    ("rshift", operator.rshift),
):
    setattr(Col, f"__{_name}__", _arith(_op))
    setattr(Col, f"__r{_name}__", _arith(_op, reflected=True))
for _name, _op in (
    ("eq", operator.eq),
    ("ne", operator.ne),
    ("lt", operator.lt),
    ("le", operator.le),
    ("gt", operator.gt),
    ("ge", operator.ge),
):
    setattr(Col, f"__{_name}__", _cmp(_op))
Col.__neg__ = lambda self: Col(-_num(self))
Col.__invert__ = lambda self: Col(~_num(self))
Col.__abs__ = lambda self: Col(np.abs(_num(self)))


def _cond(c):
    """A condition as a bool array (or a Python bool)."""
    if type(c) is Col:
        return c.v if c.v.dtype == np.bool_ else c.v != 0
    return bool(c)


def _raw(x):
    return x.v if type(x) is Col else x


class ArrayBackend:
    """The vocabulary backend over :class:`Col` values; ``guards`` collects the enabling
    conditions (``require``) of one evaluation."""

    def __init__(self):
        self.guards = []

    def ite(self, c, a, b):
        return Col(np.where(_cond(c), _raw(a), _raw(b)))

    def and_(self, cs):
        return Col(np.logical_and.reduce([_cond(c) for c in cs]))

    def or_(self, cs):
        return Col(np.logical_or.reduce([_cond(c) for c in cs]))

    def not_(self, c):
        return Col(np.logical_not(_cond(c)))

    def require(self, c):
        self.guards.append(c)
        return True


class _Installed:
    def __init__(self):
        self.backend = ArrayBackend()

    def __enter__(self):
        self.prev = vocab._backend
        vocab.set_backend(self.backend)
        return self.backend

    def __exit__(self, *exc):
        vocab.set_backend(self.prev)
        return False


def batch_state(rows: np.ndarray) -> list:
    """The batch state of ``(k, width)`` uint8 rows: a list of ``width`` Cols."""
    cols = rows.T.astype(I64)
    return [Col(cols[c]) for c in range(cols.shape[0])]


def _vector(x, k: int) -> np.ndarray:
    """``x`` (a Col, Python int or bool) as an int64 array of ``k`` values."""
    if type(x) is Col:
        v = x.v
        v = v.astype(I64) if v.dtype != I64 else v
        return v if v.shape == (k,) else np.broadcast_to(v, (k,)).copy()
    return np.full(k, int(x), dtype=I64)


def _mask(c, k: int) -> np.ndarray:
    c = _cond(c)
    return np.full(k, c) if isinstance(c, bool) else np.broadcast_to(c, (k,))


def evaluate_action(model, action, rows: np.ndarray, writes) -> tuple:
    """Run ``action.apply`` on the ``(k, width)`` uint8 ``rows`` at once.

    Returns ``(enabled, values)``: a bool array of ``k`` (the conjunction of every
    ``require``), and a ``(len(writes), k)`` int64 array of the values the action leaves at
    the offsets ``writes`` (its write set).  Raises SymbolicUseError (or whatever a
    construct outside the vocabulary raises on arrays: ValueError, TypeError...) when the
    transition cannot be evaluated this way; the caller then uses :func:`evaluate_rows`,
    where a genuine error (a user's hook that raises) is reported by the reference path.
    """
    k = rows.shape[0]
    s = batch_state(rows)
    with np.errstate(all="ignore"), _Installed() as b:
        out = action.apply(model, s)
    enabled = np.ones(k, dtype=bool)
    for g in b.guards:
        enabled &= _mask(g, k)
    values = np.zeros((len(writes), k), dtype=I64)
    if out is None:
        enabled[:] = False
    elif out is not s:
        for j, o in enumerate(writes):
            values[j] = _vector(out[o], k)
    else:
        for j, o in enumerate(writes):
            values[j] = s[o].v
    return enabled, values


class NotBoolean(TypeError):
    """A predicate's batched result is not a condition (e.g. an int): the reference
    semantics refuses such a predicate, so it is re-evaluated row by row."""


def evaluate_predicate(fn, L, rows: np.ndarray) -> np.ndarray:
    """``fn(L, s)`` on the ``(k, width)`` uint8 ``rows`` at once: a bool array of ``k``.
    Raises like :func:`evaluate_action`, and NotBoolean when the result is not a condition
    (Python bool or boolean array)."""
    k = rows.shape[0]
    with np.errstate(all="ignore"), _Installed():
        r = fn(L, batch_state(rows))
    if type(r) is bool:
        return np.full(k, r)
    if type(r) is Col and r.v.dtype == np.bool_:
        return np.array(np.broadcast_to(r.v, (k,)), dtype=bool)
    raise NotBoolean(f"predicate returned {type(r).__name__}")


def evaluate_rows(model, action, rows: np.ndarray, writes) -> tuple:
    """The reference semantics row by row: ``action.apply(model, bytes(row))`` for each of
    the ``(k, width)`` rows; same result shape as :func:`evaluate_action`.  Raises
    ValueError if a successor is not a state of ``width`` bytes."""
    k = rows.shape[0]
    enabled = np.zeros(k, dtype=bool)
    values = np.zeros((len(writes), k), dtype=I64)
    for i in range(k):
        s = bytes(rows[i])
        ns = action.apply(model, s)
        if ns is None:
            continue
        if len(ns) != len(s):
            raise ValueError(
                f"action {_describe(action)} returned a state of {len(ns)} bytes, not {len(s)}"
            )
        enabled[i] = True
        for j, o in enumerate(writes):
            values[j, i] = ns[o]
    return enabled, values


def predicate_rows(fn, L, rows: np.ndarray) -> np.ndarray:
    """``fn(L, bytes(row))`` row by row (the reference semantics)."""
    return np.array([bool(fn(L, bytes(r))) for r in rows], dtype=bool)


def _describe(a) -> str:
    return a.describe() if hasattr(a, "describe") else repr(a)

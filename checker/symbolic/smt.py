"""The Z3 layer: the only module of daxcheck that imports ``z3``.

Four small pieces, shaped after mypyvy's ``solver.py`` and CrossHair's ``statespace.py``:

* :class:`Z3Backend`, the vocabulary backend (:func:`daxcheck.spec.vocab.set_backend`):
  ``If``/``And``/``Or``/``Not`` on Z3 terms build Z3 terms, ``require`` records a guard in
  the current evaluation frame;
* :func:`evaluate`, which runs a spec function or a property over Z3 terms with that backend
  installed and turns a Python construct used on a symbolic value into a one-line
  :class:`~daxcheck.spec.vocab.SymbolicUseError` naming the function, file, line and the
  construct;
* symbolic states: one ``z3.Int`` per state field per step (:func:`fresh_state`), with the
  field domains of :func:`daxcheck.spec.state.field_domain` (:func:`domain`), and the
  reading of a Z3 model back into a concrete ``bytes`` state (:func:`state_value`);
* :class:`Solver`, a wrapper with push/pop frames, a deadline, and a three-valued answer
  :class:`Result` (REFUTED / CONFIRMED / UNKNOWN).  The solver is always asked "is there a
  counterexample?": sat is REFUTED (with a model), unsat is CONFIRMED, anything else
  (timeout, resource limit, incompleteness) is UNKNOWN, which is never a pass.

Fields are mathematical integers (``Int``), not ``BitVec(8)``: the spec's arithmetic is
small (counts, +1/-1) and Python's ints do not wrap either, so ``Int`` keeps the two
engines' semantics identical; a concrete ``bytes`` state rejects values outside 0..255 and
the prover checks the field domains, so wrap-around cannot hide a bug.  Byte-offset
questions (:mod:`daxcheck.checker.queries`) use 64-bit bit-vectors (``loff_t``) through
the ``u64`` helpers below.
"""

from __future__ import annotations

import linecache
import os
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum

import z3

from daxcheck.spec import vocab
from daxcheck.spec.state import field_domain
from daxcheck.spec.vocab import SymbolicUseError

__all__ = [
    "Result",
    "Outcome",
    "Solver",
    "Deadline",
    "Z3Backend",
    "evaluate",
    "fresh_state",
    "domain",
    "state_value",
    "term",
    "conj",
    "disj",
    "neg",
    "ite",
    "eq_state",
    "is_true",
    "is_false",
    "simplify",
    "substitute",
    "u64",
    "u64_val",
    "ult",
    "ule",
    "SymbolicUseError",
]


# ----------------------------------------------------------------------------- results
class Result(Enum):
    """Three-valued answer of one solver query (CrossHair's REFUTED/CONFIRMED/UNKNOWN).

    REFUTED: a counterexample exists (the query is sat; the outcome carries the model).
    CONFIRMED: no counterexample exists (unsat).  UNKNOWN: the solver gave up or the time
    limit was reached; callers must report it as incomplete, never as a pass."""

    REFUTED = "refuted"
    CONFIRMED = "confirmed"
    UNKNOWN = "unknown"


@dataclass
class Outcome:
    """One query's answer: ``result``, the Z3 ``model`` (REFUTED only), ``reason`` (why
    UNKNOWN, e.g. ``"timeout"``) and ``seconds`` spent in the solver."""

    result: Result
    model: object = None
    reason: str = ""
    seconds: float = 0.0

    def value(self, t) -> int:
        """Integer value of term ``t`` in the model (REFUTED only; model completion on).
        Raises ValueError if there is no model."""
        if self.model is None:
            raise ValueError(f"no model: the query was {self.result.value}")
        v = self.model.eval(term(t), model_completion=True)
        if z3.is_true(v):
            return 1
        if z3.is_false(v):
            return 0
        if z3.is_bv_value(v):
            return v.as_signed_long()
        return v.as_long()


class Deadline:
    """A wall-clock deadline ``seconds`` from now (None = none).  ``remaining()`` is the
    number of seconds left (``inf`` without a deadline, never negative)."""

    def __init__(self, seconds: float | None):
        if seconds is not None and (not isinstance(seconds, (int, float)) or seconds <= 0):
            raise ValueError(f"time limit must be a positive number of seconds, not {seconds!r}")
        self.end = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float:
        if self.end is None:
            return float("inf")
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0


class Solver:
    """A Z3 solver with push/pop frames, a deadline and three-valued :meth:`check`.

    ``deadline``: a :class:`Deadline` shared by all checks (each check gets the time left
    as its Z3 timeout); ``logic``: an SMT-LIB logic name or None for Z3's default.
    """

    def __init__(self, deadline: Deadline | None = None, logic: str | None = None):
        self._s = z3.SolverFor(logic) if logic else z3.Solver()
        self.deadline = deadline or Deadline(None)
        self.checks = 0
        self.solver_seconds = 0.0

    def add(self, *constraints) -> None:
        """Assert constraints (Z3 terms or Python bools) in the current frame."""
        for c in constraints:
            self._s.add(term(c))

    def push(self) -> None:
        self._s.push()

    def pop(self) -> None:
        self._s.pop()

    @contextmanager
    def frame(self):
        """``with solver.frame(): ...``: assertions made inside are retracted on exit."""
        self._s.push()
        try:
            yield self
        finally:
            self._s.pop()

    def check(self, *assumptions) -> Outcome:
        """Is the conjunction of the assertions (and ``assumptions``) satisfiable?  sat is
        REFUTED (a counterexample), unsat CONFIRMED, anything else UNKNOWN.  Returns
        UNKNOWN with reason ``"time limit"`` at once if the deadline has passed."""
        left = self.deadline.remaining()
        if left <= 0:
            return Outcome(Result.UNKNOWN, reason="time limit")
        if left != float("inf"):
            self._s.set("timeout", max(1, int(left * 1000)))
        t0 = time.perf_counter()
        r = self._s.check(*[term(a) for a in assumptions])
        dt = time.perf_counter() - t0
        self.checks += 1
        self.solver_seconds += dt
        if r == z3.sat:
            return Outcome(Result.REFUTED, self._s.model(), seconds=dt)
        if r == z3.unsat:
            return Outcome(Result.CONFIRMED, seconds=dt)
        reason = self._s.reason_unknown()
        if self.deadline.expired() or reason in ("timeout", "canceled"):
            reason = "time limit"
        return Outcome(Result.UNKNOWN, reason=reason or "unknown", seconds=dt)

    def set_option(self, key: str, value) -> None:
        """Set a raw Z3 solver parameter (e.g. ``"timeout"`` in ms for tests)."""
        self._s.set(key, value)


# ----------------------------------------------------------------------------- terms
FIELD_BITS = 10
"""Width of the bit-vector a state field is encoded in.  Ten bits, compared *signed*, hold
every value the spec computes from byte fields (-255..511: +1/-1 and counts of at most 9)
without wrap-around, so the encoding has exactly the semantics of Python ints; Z3 then
bit-blasts each query to SAT, which is much faster here than linear integer arithmetic."""

_int_sort = {"bits": FIELD_BITS}


def field_sort_bits() -> int | None:
    """Bits of the current field encoding (None: mathematical integers)."""
    return _int_sort["bits"]


@contextmanager
def field_encoding(bits: int | None):
    """Encode state fields (and integer literals in terms) as ``bits``-wide bit-vectors,
    or as ``z3.Int`` with ``bits=None``, for the duration of the block."""
    old = _int_sort["bits"]
    _int_sort["bits"] = bits
    try:
        yield
    finally:
        _int_sort["bits"] = old


def int_val(v: int):
    """An integer literal in the current field encoding."""
    bits = _int_sort["bits"]
    return z3.IntVal(v) if bits is None else z3.BitVecVal(v, bits)


def int_var(name: str):
    """An integer variable in the current field encoding."""
    bits = _int_sort["bits"]
    return z3.Int(name) if bits is None else z3.BitVec(name, bits)


def term(v):
    """A Python ``bool``/``int`` or a Z3 term as a Z3 term (ints in the current field
    encoding)."""
    if isinstance(v, bool):
        return z3.BoolVal(v)
    if isinstance(v, int):
        return int_val(v)
    return v


def conj(cs: Sequence) -> object:
    """Conjunction of Z3 terms / Python bools (``True`` for an empty list)."""
    cs = [c for c in cs if c is not True]
    if any(c is False for c in cs):
        return z3.BoolVal(False)
    return z3.And([term(c) for c in cs]) if cs else z3.BoolVal(True)


def disj(cs: Sequence) -> object:
    """Disjunction of Z3 terms / Python bools (``False`` for an empty list)."""
    cs = [c for c in cs if c is not False]
    if any(c is True for c in cs):
        return z3.BoolVal(True)
    return z3.Or([term(c) for c in cs]) if cs else z3.BoolVal(False)


def neg(c):
    """Negation of a Z3 term or Python bool."""
    return z3.Not(term(c))


def ite(c, a, b):
    """Z3 if-then-else of terms/ints."""
    return z3.If(term(c), term(a), term(b))


def is_true(t) -> bool:
    """``t`` is the literal true."""
    return t is True or (not isinstance(t, (bool, int)) and z3.is_true(t))


def is_false(t) -> bool:
    """``t`` is the literal false."""
    return t is False or (not isinstance(t, (bool, int)) and z3.is_false(t))


def simplify(t):
    """Z3's simplifier on a term (Python values returned as terms)."""
    return z3.simplify(term(t))


def substitute(t, pairs):
    """``t`` with each ``(var, replacement)`` of ``pairs`` substituted."""
    return z3.substitute(term(t), *[(a, term(b)) for a, b in pairs]) if pairs else term(t)


def u64(name: str):
    """A 64-bit bit-vector variable (a ``loff_t``/``size_t`` in kernel byte arithmetic)."""
    return z3.BitVec(name, 64)


def u64_val(v: int):
    """A 64-bit bit-vector constant."""
    return z3.BitVecVal(v, 64)


def ult(a, b):
    """Unsigned ``a < b`` on bit-vectors."""
    return z3.ULT(a, b)


def ule(a, b):
    """Unsigned ``a <= b`` on bit-vectors."""
    return z3.ULE(a, b)


# ----------------------------------------------------------------------------- states
def fresh_state(L, tag: str) -> tuple:
    """A symbolic state for layout ``L``: one integer term per field (see
    :data:`FIELD_BITS`), named
    ``<tag>.<field label>`` (e.g. ``s3.ext_kind[a,0]``)."""
    return tuple(int_var(f"{tag}.{L.label(o)}") for o in range(L.width))


def domain(L, s) -> object:
    """The conjunction of the field domains (:func:`~daxcheck.spec.state.field_domain`)
    over symbolic state ``s``."""
    cs = []
    for o in range(L.width):
        vals = field_domain(L, o)
        lo, hi = vals[0], vals[-1]
        if hi - lo + 1 == len(vals):
            cs.append(z3.And(s[o] >= lo, s[o] <= hi))
        else:
            cs.append(z3.Or([s[o] == v for v in vals]))
    return z3.And(cs)


def eq_state(s, values) -> object:
    """``s == values`` field by field (``values``: a concrete state or terms)."""
    return z3.And([a == term(b) for a, b in zip(s, values)])


def state_value(outcome: Outcome, s) -> bytes:
    """The concrete state a REFUTED outcome's model gives symbolic state ``s``.  Raises
    ValueError if a field's value is outside 0..255 (the model is not a state)."""
    vals = [outcome.value(v) for v in s]
    bad = [v for v in vals if not 0 <= v <= 255]
    if bad:
        raise ValueError(f"model gives a field the value {bad[0]}, outside 0..255")
    return bytes(vals)


# ----------------------------------------------------------------------------- backend
class Z3Backend:
    """The vocabulary backend over Z3 terms.  ``frames`` is a stack of guard lists: each
    :func:`evaluate` pushes one, and ``require(c)`` appends ``c`` to the innermost one."""

    def __init__(self):
        self.frames: list[list] = [[]]

    def ite(self, c, a, b):
        return z3.If(term(c), term(a), term(b))

    def and_(self, cs):
        return z3.And([term(c) for c in cs])

    def or_(self, cs):
        return z3.Or([term(c) for c in cs])

    def not_(self, c):
        return z3.Not(term(c))

    def require(self, c):
        self.frames[-1].append(c)
        return True


_Z3_DIR = os.path.dirname(os.path.abspath(z3.__file__))
_THIS = os.path.abspath(__file__)
_VOCAB = os.path.abspath(vocab.__file__)


def _strict_bool(self):
    # z3's ExprRef.__bool__ answers an `==` term by *syntactic* equality, so `if s[o] == 0`
    # would silently be False; during symbolic evaluation every truth test on a term that
    # is not literally true/false is an error.
    if z3.is_true(self):
        return True
    if z3.is_false(self):
        return False
    raise z3.Z3Exception("Symbolic expressions cannot be cast to concrete Boolean values.")


def _construct(e: BaseException) -> str:
    msg = str(e)
    if isinstance(e, z3.Z3Exception) and "Boolean" in msg:
        return "a Python truth test (`if`/`and`/`or`/`not`/`bool()`) on a state value; use If/And/Or/Not/when"
    if (
        "indices must be" in msg
        or "cannot be interpreted as an integer" in msg
        or "__index__" in msg
    ):
        return "a state value used as a Python index or count; use select()/store()"
    return f"a Python operation on a state value the solver cannot take ({type(e).__name__}: {msg})"


def _culprit(tb) -> str:
    frames = traceback.extract_tb(tb)
    pick = None
    for fr in frames:
        path = os.path.abspath(fr.filename)
        if path.startswith(_Z3_DIR) or path == _THIS:
            continue
        if path == _VOCAB and pick is not None:
            continue
        pick = fr
    if pick is None:
        return "<unknown>"
    src = (linecache.getline(pick.filename, pick.lineno) or "").strip()
    where = f"{pick.name} ({os.path.basename(pick.filename)}:{pick.lineno})"
    return f"{where}: `{src}`" if src else where


@contextmanager
def symbolic_mode():
    """Install a :class:`Z3Backend` in the vocabulary and make truth tests on Z3 terms
    strict for the duration of the block; yields the backend."""
    prev = vocab._backend
    old_bool = z3.ExprRef.__bool__
    b = Z3Backend()
    vocab.set_backend(b)
    z3.ExprRef.__bool__ = _strict_bool
    try:
        yield b
    finally:
        z3.ExprRef.__bool__ = old_bool
        vocab.set_backend(prev)


def evaluate(fn: Callable, *args, what: str | None = None):
    """Run ``fn(*args)`` over Z3 terms.  Returns ``(result, guards)`` where ``guards`` are
    the conditions ``require`` recorded during the call (the enabling condition of a
    transition).  Raises :class:`SymbolicUseError` with a one-line message naming
    ``what`` (default: ``fn``'s name), the innermost spec/property/user function, its file
    and line, and the construct, when the code uses a Python construct on a symbolic value.
    """
    label = what or getattr(fn, "__qualname__", repr(fn))
    with symbolic_mode() as b:
        b.frames.append([])
        try:
            r = fn(*args)
        except SymbolicUseError as e:
            raise SymbolicUseError(f"{label}: {e} (in {_culprit(e.__traceback__)})") from None
        except (z3.Z3Exception, TypeError) as e:
            raise SymbolicUseError(
                f"{label} cannot be evaluated symbolically: "
                f"{_culprit(e.__traceback__)} uses {_construct(e)}"
            ) from None
        guards = b.frames.pop()
    return r, guards

"""The small shared vocabulary in which every transition and property is written.

Transition functions and property predicates branch freely on *action arguments*
(which file, which block: plain Python ints), but branch on *state* only through
the functions below.  Each one computes directly when its inputs are Python
values (the explicit-state engine: ``bool`` conditions, ``int`` fields) and
builds a term when an input is symbolic (the Z3 engine, which installs a
backend with :func:`set_backend`).  This is how one specification serves two
engines (Yggdrasil, OSDI'16, did the same for a file-system spec in Python).

Rules for spec authors:

* conditions are ``bool`` (compare fields explicitly: ``s[o] != 0``, not ``s[o]``);
* never use ``if``/``and``/``or``/``not`` on a value read from the state; use
  :func:`If`, :func:`And`, :func:`Or`, :func:`Not`, :func:`when`;
* an index computed from the state (a pfn, a physical block) goes through
  :func:`select` / :func:`store`, which iterate the finite domain symbolically;
* an enabling condition goes through :func:`require` (``if not require(c): return None``),
  and only at the top level of a transition (not inside :func:`when`).

Symbolic evaluation of a construct outside these rules raises
:class:`SymbolicUseError` naming the construct.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

_backend = None


class SymbolicUseError(TypeError):
    """A spec or property used a Python construct that cannot take a symbolic value.

    Raised by the symbolic backend (e.g. ``if`` on a Z3 term, an out-of-vocabulary call);
    the message names the function and the construct so the author can rewrite it.
    """


def set_backend(backend) -> None:
    """Install the symbolic backend (an object with ``ite``, ``and_``, ``or_``, ``not_``,
    ``require``); ``None`` removes it.  Used by the Z3 layer only."""
    global _backend
    _backend = backend


def _sym():
    if _backend is None:
        raise SymbolicUseError(
            "a non-bool condition reached the vocabulary with no symbolic backend installed "
            "(compare state fields explicitly, e.g. `s[o] != 0`)"
        )
    return _backend


def If(c, a, b):
    """``a`` if condition ``c`` else ``b``; a Z3 ``If`` when ``c`` is symbolic."""
    if c is True:
        return a
    if c is False:
        return b
    return _sym().ite(c, a, b)


def Not(c):
    """Boolean negation of ``c``."""
    if c is True:
        return False
    if c is False:
        return True
    return _sym().not_(c)


def And(*cs):
    """Conjunction of the conditions ``cs`` (all evaluated; no short-circuit on symbols)."""
    rest = []
    for c in cs:
        if c is False:
            return False
        if c is not True:
            rest.append(c)
    return _sym().and_(rest) if rest else True


def Or(*cs):
    """Disjunction of the conditions ``cs``."""
    rest = []
    for c in cs:
        if c is True:
            return True
        if c is not False:
            rest.append(c)
    return _sym().or_(rest) if rest else False


def Implies(a, b):
    """``a`` implies ``b``."""
    if a is False or b is True:
        return True
    if a is True:
        return b
    if b is False:
        return Not(a)
    return _sym().or_([_sym().not_(a), b])


def ForAll(domain: Iterable, pred: Callable) -> object:
    """Bounded universal quantifier: ``pred(i)`` holds for every ``i`` of the finite ``domain``."""
    rest = []
    for i in domain:
        c = pred(i)
        if c is False:
            return False
        if c is not True:
            rest.append(c)
    return _sym().and_(rest) if rest else True


def Exists(domain: Iterable, pred: Callable) -> object:
    """Bounded existential quantifier over the finite ``domain``."""
    rest = []
    for i in domain:
        c = pred(i)
        if c is True:
            return True
        if c is not False:
            rest.append(c)
    return _sym().or_(rest) if rest else False


def Count(domain: Iterable, pred: Callable):
    """Number of ``i`` in the finite ``domain`` with ``pred(i)`` (an int, or an integer term)."""
    n = 0
    for i in domain:
        c = pred(i)
        if c is True:
            n += 1
        elif c is not False:
            n = n + _sym().ite(c, 1, 0)
    return n


def select(s: Sequence, offsets: Sequence[int], i):
    """Read field ``offsets[i]`` of state ``s`` where ``i`` may come from the state.

    ``offsets`` is one row of a :class:`~daxcheck.spec.state.Layout` table (e.g. the
    refcount of every physical block).  A symbolic ``i`` becomes an if-then-else chain
    over the finite domain.  An out-of-range ``i`` (only in an arbitrary byte vector,
    never in a reachable state) reads the last element, concretely and symbolically alike.
    """
    if type(i) is int:
        return s[offsets[i]] if i < len(offsets) else s[offsets[-1]]
    r = s[offsets[-1]]
    for k in range(len(offsets) - 2, -1, -1):
        r = _sym().ite(i == k, s[offsets[k]], r)
    return r


def store(d, offsets: Sequence[int], i, v) -> None:
    """Write ``v`` into field ``offsets[i]`` of draft ``d``; a guarded update of every
    element when ``i`` is symbolic.  An out-of-range ``i`` writes nothing (both ways)."""
    if type(i) is int:
        if i < len(offsets):
            d[offsets[i]] = v
        return
    for k, o in enumerate(offsets):
        d[o] = _sym().ite(i == k, v, d[o])


def when(d, c, update: Callable) -> None:
    """Apply ``update(d)`` (which mutates draft ``d``) only if condition ``c`` holds.

    Concretely a plain ``if``; symbolically the update runs on a copy and each changed
    field becomes ``If(c, new, old)`` (a guarded update).  ``update`` must not call
    :func:`require`.
    """
    if c is True:
        update(d)
        return
    if c is False:
        return
    d2 = list(d)
    update(d2)
    for k in range(len(d)):
        if d2[k] is not d[k]:
            d[k] = _sym().ite(c, d2[k], d[k])


def first(domain: Sequence[int], pred: Callable):
    """The least ``i`` of ``domain`` with ``pred(i)``: returns ``(found, i)``; ``(False, 0)``
    if there is none.  Models deterministic allocators (lowest free block first)."""
    preds = []
    symbolic = False
    for i in domain:
        c = pred(i)
        if c is True and not symbolic:
            return True, i
        if c is not True and c is not False:
            symbolic = True
        preds.append((i, c))
    if not symbolic:
        return False, 0
    found, val = False, 0
    for i, c in reversed(preds):
        if c is True:
            found, val = True, i
        elif c is not False:
            found = Or(c, found)
            val = If(c, i, val)
    return found, val


def require(c) -> bool:
    """Enabling condition of a transition: ``if not require(c): return None``.

    Concretely returns ``c``; symbolically records ``c`` as a guard of the step and returns
    ``True`` so evaluation continues.
    """
    if c is True or c is False:
        return c
    return _sym().require(c)


def draft(s):
    """A mutable copy of state ``s`` for a transition to edit (``bytearray`` for a concrete
    ``bytes`` state, a list of terms for a symbolic one)."""
    return bytearray(s) if type(s) is bytes else list(s)


def freeze(d):
    """The immutable state for a finished draft (``bytes`` concretely)."""
    return bytes(d) if type(d) is bytearray else tuple(d)

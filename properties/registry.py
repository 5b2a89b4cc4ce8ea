"""Registry of named invariants (state predicates) and loading of users' property files.

A property is a function ``pred(L, s) -> bool`` over a layout ``L`` and a state ``s``,
written in :mod:`daxcheck.spec.vocab` so both engines can evaluate it, registered with the
:func:`invariant` decorator.  Its docstring says in English what it means and which kernel
bug it catches; the decorator rejects a property without one (Hypothesis-style
``InvalidDefinition`` at definition time).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields

from daxcheck.spec.state import Bounds
from daxcheck.spec.vocab import ForAll
from daxcheck.usercode import guard_domain, guard_predicate
from daxcheck.userfile import UserFileError, import_user_file

PROPERTIES: dict[str, Property] = {}
"""Invariants: what ``daxcheck check`` and ``prove`` decide, by name."""

LEMMAS: dict[str, Property] = {}
"""Strengthening lemmas: auxiliary invariants that ``daxcheck prove`` offers the
k-induction as candidates (each proved before it is used, Houdini); ``check --property``
also accepts their names, so the explicit engine can confirm one on a design."""


class InvalidDefinition(TypeError):
    """A property was defined wrongly (no docstring, wrong signature, duplicate name)."""


class PropertyFileError(ValueError):
    """A user's property file could not be loaded; the message names file and cause."""


@dataclass(frozen=True)
class Property:
    """A registered invariant: ``name``, predicate ``fn(L, s) -> bool`` (the whole
    invariant), English ``doc``, ``origin`` (``shipped`` or the user's file).

    A property declared ``@invariant(each=domain)`` is a conjunction over the items of
    ``domain(L)`` (file offsets, pmem pages...): ``item_fn(L, s, item)`` is one conjunct and
    ``fn`` their ForAll.  Engines may check the conjuncts one by one (the explicit engine
    memoises each on its own read set) and report which item failed.
    """

    name: str
    fn: Callable
    doc: str
    origin: str = "shipped"
    each: Callable | None = None
    item_fn: Callable | None = None
    dims: tuple | None = None
    """For ``each=``: the index dimension of each component of an item (``("proc", "file",
    "blk")``), which names it in reports (``P0 a[1]``); None: inferred from the domain."""
    needs: tuple = ()
    """The scope the property's meaning needs: ``((bound, minimum), ...)`` over
    :class:`~daxcheck.spec.state.Bounds` fields (``("tokens", 2)``: with one data token every
    write stores the same data); a run below it "holds (vacuous: ...)"."""
    exercised_by: tuple = ()
    """Its antecedent as action families: the property says something only in a run where
    one of them fired (``("dedupe",)``); else it "holds (vacuous: ...)"."""

    def vacuity(self, bounds: dict, fired: dict | None) -> str | None:
        """Why a "holds" of this property is vacuous in a run with ``bounds`` (a
        :meth:`~daxcheck.spec.state.Bounds.as_dict`, missing keys at their defaults) and
        ``fired`` (successful transitions per action family; None or empty: not counted,
        e.g. Z3), or None.  E.g. "tokens=1, needs 2" or "no dedupe fired"."""
        why = []
        for bound, least in self.needs:
            have = bounds.get(bound, getattr(Bounds(), bound, 0))
            if have < least:
                why.append(f"{bound}={have}, needs {least}")
        if self.exercised_by and fired and not any(fired.get(f) for f in self.exercised_by):
            why.append(f"no {' or '.join(self.exercised_by)} fired")
        return "; ".join(why) or None

    def holds(self, L, s) -> bool:
        """Evaluate the invariant on state ``s``."""
        return self.fn(L, s)

    def conjuncts(self, L) -> list:
        """``[(item or None, pred(L, s))]``: the conjuncts to check separately (one, the
        whole invariant, when it was not declared with ``each``)."""
        if self.each is None:
            return [(None, self.fn)]
        item_fn = self.item_fn
        assert item_fn is not None, "each= without an item function"
        return [(it, (lambda L, s, it=it: item_fn(L, s, it))) for it in self.each(L)]

    def failing_items(self, L, s) -> list:
        """Items whose conjunct fails in ``s`` (``[None]`` for a failing plain invariant)."""
        return [it for it, fn in self.conjuncts(L) if not fn(L, s)]

    @property
    def summary(self) -> str:
        """First sentence of the docstring."""
        return " ".join(self.doc.split()).split(". ")[0].rstrip(".") + "."


_origin = None


def _origin_of(f) -> str:
    """Where a property comes from: the user file being loaded, "shipped" for daxcheck's
    own modules, else the file that defines ``f`` (a test module, a user's script)."""
    if _origin is not None:
        return _origin
    if (getattr(f, "__module__", "") or "").startswith("daxcheck."):
        return "shipped"
    return inspect.getsourcefile(f) or getattr(f, "__module__", None) or "user"


ITEM_DIMS = ("file", "blk", "seg", "phys", "proc", "tok", "thread")
"""The index dimensions an item's component may have (``dims=``)."""


def _check_dims(kind: str, name: str, each, dims) -> tuple | None:
    """``dims`` as a tuple of :data:`ITEM_DIMS` names; InvalidDefinition otherwise (with
    the closest name for a mistyped one), or when given without ``each``."""
    if dims is None:
        return None
    if each is None:
        raise InvalidDefinition(
            f"{kind} {name}: dims= names the components of each= items; give each= too"
        )
    dims = (dims,) if isinstance(dims, str) else tuple(dims)
    for d in dims:
        if d not in ITEM_DIMS:
            close = difflib.get_close_matches(str(d), ITEM_DIMS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InvalidDefinition(
                f"{kind} {name}: dims= names unknown dimension {d!r}{hint} "
                f"(valid: {', '.join(ITEM_DIMS)})"
            )
    return dims


def _check_needs(kind: str, name: str, needs, exercised_by) -> tuple[tuple, tuple]:
    """``needs`` (``{bound: minimum}``) and ``exercised_by`` (action families) as tuples;
    InvalidDefinition for an unknown bound or a minimum that is not a positive int."""
    known = [f.name for f in fields(Bounds) if f.name != "depth"]
    pairs = tuple((needs or {}).items())
    for bound, least in pairs:
        if bound not in known:
            raise InvalidDefinition(
                f"{kind} {name}: needs= names unknown bound {bound!r}{_close(bound, known)} "
                f"(valid: {', '.join(known)})"
            )
        if not isinstance(least, int) or isinstance(least, bool) or least < 1:
            raise InvalidDefinition(f"{kind} {name}: needs {bound}={least!r}: a positive int")
    fams = (exercised_by,) if isinstance(exercised_by, str) else tuple(exercised_by or ())
    if not all(isinstance(f, str) and f for f in fams):
        raise InvalidDefinition(f"{kind} {name}: exercised_by= names action families")
    return pairs, fams


def _close(name, choices) -> str:
    close = difflib.get_close_matches(str(name), choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _register(table: dict, kind: str, fn, name, each, dims=None, needs=None, exercised_by=None):
    if each is not None and not callable(each):
        raise InvalidDefinition(
            f"{kind} {name or getattr(fn, '__name__', '?')}: each= must "
            f"be a function of the layout returning the items, not "
            f"{type(each).__name__}"
        )
    dims = _check_dims(kind, name or getattr(fn, "__name__", "?"), each, dims)
    needs, exercised_by = _check_needs(
        kind, name or getattr(fn, "__name__", "?"), needs, exercised_by
    )

    def register(f):
        if not inspect.isfunction(f):
            raise InvalidDefinition(f"@{kind} decorates a function (L, s), not {type(f).__name__}")
        nm = f.__name__ if name is None else name
        if not isinstance(nm, str) or not nm:
            raise InvalidDefinition(f"{kind} name {nm!r} is not a non-empty string")
        doc = inspect.getdoc(f)
        if not doc:
            raise InvalidDefinition(f"{kind} {nm} has no docstring saying what it means")
        params = list(inspect.signature(f).parameters.values())
        want = 2 if each is None else 3
        if len(params) != want:
            raise InvalidDefinition(
                f"{kind} {nm} must take {'(L, s)' if want == 2 else '(L, s, item)'}, "
                f"not {len(params)} parameters"
            )
        for other in (PROPERTIES, LEMMAS):
            if nm in other:
                raise InvalidDefinition(
                    f"{kind} {nm} is already registered (from {other[nm].origin})"
                )
        origin = _origin_of(f)
        g, domain = f, each
        if origin != "shipped":  # a user's code: one-line errors, non-bool results refused
            g = guard_predicate(f, f"{kind} {nm}")
            if each is not None:
                domain = guard_domain(each, f"the each= domain of {kind} {nm}")
        if each is None:
            table[nm] = Property(nm, g, doc, origin, needs=needs, exercised_by=exercised_by)
        else:

            def whole(L, s):
                return ForAll(domain(L), lambda it: g(L, s, it))

            whole.__name__ = whole.__qualname__ = f.__name__
            table[nm] = Property(nm, whole, doc, origin, domain, g, dims, needs, exercised_by)
        return f

    return register(fn) if fn is not None else register


def invariant(
    fn: Callable | None = None,
    *,
    name: str | None = None,
    each: Callable | None = None,
    dims=None,
    needs: dict | None = None,
    exercised_by=None,
):
    """Decorator registering an invariant named ``name`` (default: the function name).

    Without ``each`` the function is ``pred(L, s) -> bool``.  With ``each=domain`` (a
    function of the layout returning a finite sequence of items) the function is
    ``pred(L, s, item) -> bool`` and the invariant is its conjunction over the items;
    ``dims`` names the index dimension of each component of an item (a tuple of
    :data:`ITEM_DIMS`, e.g. ``("proc", "file", "blk")``) so reports name a failing item
    ``P0 a[1]`` (default: inferred for the layout's own domains ``L.file_blk_segs``,
    ``L.file_blks``, ``L.phys``, ``L.files``, ``L.procs``).  ``needs`` (``{"tokens": 2}``:
    :class:`~daxcheck.spec.state.Bounds` field -> minimum) is the scope its meaning needs and
    ``exercised_by`` (action families) its antecedent: a run below the scope, or where none of
    those families fired, reports "holds (vacuous: ...)" (:meth:`Property.vacuity`).  Raises
    InvalidDefinition for a missing docstring, a wrong number of parameters, a name already
    registered (as an invariant or a lemma), an unknown dimension or bound.
    """
    return _register(PROPERTIES, "property", fn, name, each, dims, needs, exercised_by)


def lemma(
    fn: Callable | None = None, *, name: str | None = None, each: Callable | None = None, dims=None
):
    """Decorator registering a strengthening lemma for ``daxcheck prove``: same shapes and
    errors as :func:`invariant`.  A lemma is an auxiliary invariant (typically relating
    two parts of the state, e.g. dirty cache lines and dirty DAX entries) that makes a
    property inductive; the prover assumes only the lemmas it proves, so a wrong lemma
    costs a proof, never soundness."""
    return _register(LEMMAS, "lemma", fn, name, each, dims)


def lookup(name: str) -> Property:
    """The invariant or lemma called ``name``; KeyError if neither exists."""
    if name in PROPERTIES:
        return PROPERTIES[name]
    return LEMMAS[name]


def load_properties_file(path: str) -> list[str]:
    """Import a user's Python file whose ``@invariant`` (and ``@lemma``) functions add to
    the registries (once: loading it again is a no-op, see :mod:`daxcheck.userfile`).
    Returns the names it added.  Raises PropertyFileError (missing file, syntax or import
    error, a bad definition, or no property defined)."""
    global _origin
    _origin = str(path)
    try:
        rec = import_user_file(path, "property")
    except UserFileError as e:
        cause = e.__cause__
        if isinstance(cause, InvalidDefinition):
            raise PropertyFileError(f"{path}: {cause}") from None
        raise PropertyFileError(str(e)) from None
    finally:
        _origin = None
    added = rec.names("properties") + rec.names("lemmas")
    if not added:
        raise PropertyFileError(f"{path} defines no @invariant property or @lemma")
    return added

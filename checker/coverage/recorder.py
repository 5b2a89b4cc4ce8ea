"""Recording which way each decision site went while an engine explores.

:class:`Recorder` swaps the vocabulary functions (``If``, ``when``, ``require``, ``And``,
``Or``) for recording twins in every loaded module of the spec, the properties and the
user's files, and wraps each action family's ``apply`` and each Design hook, for the
duration of a ``with`` block; outside it nothing is patched, so an ordinary run pays
nothing.  A condition is recorded only when it is a Python ``bool`` (a concrete state): the
read-set analysis and the symbolic engines pass terms, which decide nothing.

A recording twin finds its call site from the caller's frame: the position
(``co_positions``) of the instruction being executed is the call expression's start, which
is what :mod:`.sites` read from the source.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from types import CodeType, ModuleType

from daxcheck.spec import vocab

TRUE, FALSE, ALONE = 1, 2, 4
"""Outcome bits: a decision seen true, seen false (both: 3); ALONE, for an ``And`` (``Or``)
operand: seen false (true) while every other operand of the call was true (false), so it
alone decided the call (MC/DC's independence: dropping that operand changes the result)."""


class Recorder:
    """Outcomes per decision site, operation and hook, recorded while active.

    ``files``: absolute source path -> the name sites use for it (``spec/fsdax.py``); only
    calls from those files are recorded.  ``modules``: the modules whose vocabulary names
    are swapped (default: every loaded module whose ``__file__`` is in ``files``).
    ``actions``: action family classes whose ``apply`` is wrapped (name -> class).
    ``hooks``: Design hook names; ``design`` (set per model with :meth:`watch_design`)
    gets recording wrappers for them.

    After the block: ``decisions[(path, line, col, operand)]`` is an outcome bit set;
    ``operations[family]`` an outcome bit set (TRUE: enabled in some explored state, FALSE:
    disabled in some); ``hooks_called`` the set of hook names called.
    """

    def __init__(
        self,
        files: dict[str, str],
        actions: dict[str, type] | None = None,
        hooks: tuple[str, ...] = (),
        modules: list[ModuleType] | None = None,
    ):
        self.files = dict(files)
        self._real = {os.path.realpath(k): v for k, v in self.files.items()}
        self._other: dict[str, str | None] = {}
        self.action_classes = dict(actions or {})
        self.hook_names = tuple(hooks)
        self.modules = modules
        self.decisions: dict[tuple, int] = defaultdict(int)
        self.operations: dict[str, int] = defaultdict(int)
        self.hooks_called: set[str] = set()
        self._positions: dict[CodeType, list] = {}
        self._undo: list = []
        self.symbolic = None
        self.unit = None
        self.path: list = []

    # ------------------------------------------------------------ symbolic mode
    def collect_terms(self, is_term) -> None:
        """Also collect symbolic conditions (for :mod:`.explain`): a condition for which
        ``is_term(c)`` is true is stored in ``terms[site key]`` as ``(unit, path, c)``,
        where ``unit`` is what :attr:`unit` was set to (the action index or property being
        evaluated) and ``path`` the conditions the call is under (the ``require`` guards
        met so far in the unit and the enclosing ``when`` conditions)."""
        self.symbolic = is_term
        self.terms: dict[tuple, list] = defaultdict(list)

    def start_unit(self, unit) -> None:
        """Begin evaluating ``unit`` (an action index, a property name): the path
        condition starts empty."""
        self.unit, self.path = unit, []

    # --------------------------------------------------------------- call sites
    def _site(self, depth: int = 2):
        f = sys._getframe(depth)
        fn = f.f_code.co_filename
        path = self.files.get(fn)
        if path is None:
            if fn not in self._other:  # the same file through a symlink (a copied tree)
                self._other[fn] = self._real.get(os.path.realpath(fn))
            path = self._other[fn]
            if path is None:
                return None
        pos = self._positions.get(f.f_code)
        if pos is None:
            pos = self._positions[f.f_code] = list(f.f_code.co_positions())
        line, _, col, _ = pos[f.f_lasti // 2]
        return path, line, col

    def _note(self, site, operand: int, c) -> None:
        if site is None:
            return
        if c is True or c is False:
            self.decisions[(*site, operand)] |= TRUE if c else FALSE
        if self.symbolic is not None and (c is True or c is False or self.symbolic(c)):
            self.terms[(*site, operand)].append((self.unit, tuple(self.path), c))

    # ---------------------------------------------------------- recording twins
    def _twins(self) -> dict:
        note, site_of = self._note, self._site

        def If(c, a, b):
            note(site_of(), 0, c)
            return vocab.If(c, a, b)

        def when(d, c, update):
            note(site_of(), 0, c)
            if self.symbolic is None or c is True or c is False:
                return vocab.when(d, c, update)

            def under(d2):
                self.path.append(c)
                try:
                    update(d2)
                finally:
                    self.path.pop()

            return vocab.when(d, c, under)

        def require(c):
            note(site_of(), 0, c)
            r = vocab.require(c)
            if self.symbolic is not None and c is not True and c is not False:
                self.path.append(c)
            return r

        def junction(real):
            def twin(*cs):
                site = site_of()
                if site is not None:
                    for k, c in enumerate(cs):
                        note(site, k, c)
                    if all(c is True or c is False for c in cs):
                        note(site, -1, real(*cs))
                        deciding = real is vocab.Or
                        if sum(c is deciding for c in cs) == 1:
                            k = next(k for k, c in enumerate(cs) if c is deciding)
                            self.decisions[(*site, k)] |= ALONE
                return real(*cs)

            twin.__name__ = real.__name__
            return twin

        return {
            "If": If,
            "when": when,
            "require": require,
            "And": junction(vocab.And),
            "Or": junction(vocab.Or),
        }

    def _patch(self, obj, name: str, new) -> None:
        had = name in vars(obj)
        self._undo.append((obj, name, vars(obj).get(name), had))
        setattr(obj, name, new)

    def __enter__(self) -> Recorder:
        twins = self._twins()
        originals = {name: getattr(vocab, name) for name in twins}
        mods = self.modules
        if mods is None:
            mods = [
                m
                for m in list(sys.modules.values())
                if isinstance(m, ModuleType)
                and getattr(m, "__file__", None)
                and (m.__file__ in self.files or os.path.realpath(m.__file__) in self._real)
            ]
        for m in mods:
            for name, twin in twins.items():
                if vars(m).get(name) is originals[name]:
                    self._patch(m, name, twin)
        for family, cls in self.action_classes.items():
            self._patch(cls, "apply", self._recording_apply(family, cls.apply))
        return self

    def _recording_apply(self, family: str, apply):
        ops = self.operations

        def recorded(action, m, s):
            ns = apply(action, m, s)
            if type(s) is bytes:
                ops[family] |= FALSE if ns is None else TRUE
            return ns

        return recorded

    def watch_design(self, design) -> None:
        """Wrap ``design``'s hooks (instance attributes, removed on exit) so calls are
        recorded; the design's own methods and user overrides alike."""
        called = self.hooks_called
        for name in self.hook_names:
            bound = getattr(design, name, None)
            if not callable(bound):
                continue

            def hooked(*a, _name=name, _bound=bound, **kw):
                called.add(_name)
                return _bound(*a, **kw)

            self._undo.append((design, name, None, False))
            object.__setattr__(design, name, hooked)

    def __exit__(self, *exc) -> None:
        for obj, name, old, had in reversed(self._undo):
            if isinstance(obj, (type, ModuleType)):
                if had:
                    setattr(obj, name, old)
                else:
                    delattr(obj, name)
            else:
                object.__delattr__(obj, name)
        self._undo.clear()

"""The model: a design at some bounds, with its init states, actions and transitions.

Shaped like stateright's ``Model``: :meth:`DaxModel.init_states`, the enabled actions of a
state, and a pure :meth:`DaxModel.next_state`.  The action list is fixed per model (families
in :data:`~daxcheck.spec.actions.ACTIONS` order, arguments in ``instances`` order), so a
trace names each step by action and replays deterministically.
"""

from __future__ import annotations

from .designs import Design
from .ops import ACTIONS, Action
from .ops.races import race_fields, sleeping_families, waits_for
from .state import Bounds, Layout


class ActionError(ValueError):
    """An action that does not belong to the model (unknown family, out of the design's
    scope, or arguments outside the bounds); the message names it."""


class DaxModel:
    """A design explored at given bounds.

    ``design``: a :class:`Design`; ``bounds``: a :class:`Bounds` (default: the design's).
    Attributes: ``L`` (the :class:`Layout`; a race design's, :attr:`Design.threaded`, has
    the thread and lock fields and ``L.waits_for``, the waits-for relation of its split
    steps), ``actions`` (tuple of every action instance, in order), ``groups`` (runs of
    consecutive action indices sharing a guard key).
    Raises BoundsError for bounds out of range.
    """

    def __init__(self, design: Design, bounds: Bounds | None = None):
        self.design = design
        self.bounds = (bounds or design.bounds).validate()
        threaded = getattr(design, "threaded", False)
        sleepers = threaded and sleeping_families(design.families)
        self.L = Layout(self.bounds, races=race_fields(sleepers=sleepers) if threaded else ())
        self.L.sleepers = sleepers
        acts = []
        for fam in ACTIONS:
            if fam in design.families:
                acts.extend(ACTIONS[fam].instances(self.L, design))
        self.actions: tuple[Action, ...] = tuple(acts)
        self.index = {a: i for i, a in enumerate(self.actions)}
        groups: list[list[int]] = []
        last = None
        for i, a in enumerate(acts):
            key = a.guard_key()
            if key != last:
                groups.append([])
                last = key
            groups[-1].append(i)
        self.groups = tuple(tuple(g) for g in groups)
        if threaded:
            self.L.waits_for = waits_for(self)

    def init_states(self) -> list[bytes]:
        """The initial states (one: empty files after mkfs, see Layout.init_state)."""
        return [self.L.init_state()]

    def next_state(self, s: bytes, a: Action):
        """The successor of ``s`` under ``a``, or None if ``a`` is disabled in ``s``."""
        return a.apply(self, s)

    def successors(self, s: bytes, steps=None):
        """Yield ``(action index, next state)`` for every enabled action of ``s``, in action
        order.  A group whose first instance is disabled is skipped whole (its members
        differ only in arguments that do not affect enabledness).  ``steps[i](s)`` replaces
        ``self.actions[i].apply(self, s)`` (the explorer passes memoised ones)."""
        if steps is None:
            steps = self.steps
        for g in self.groups:
            first = True
            for i in g:
                ns = steps[i](s)
                if ns is None:
                    if first:
                        break
                    continue
                first = False
                yield i, ns

    @property
    def steps(self):
        """Per action index, the plain transition ``s -> next state or None``."""
        return [(lambda s, a=a: a.apply(self, s)) for a in self.actions]

    def action_from_args(self, name: str, args: dict) -> Action:
        """The model's action with family ``name`` and ``args`` (as in ITF ``#meta``).
        Raises ActionError if there is no such action in this model."""
        cls = ACTIONS.get(name)
        if cls is None:
            raise ActionError(f"unknown action {name!r} (known: {', '.join(ACTIONS)})")
        try:
            a = cls(**args)
        except TypeError as e:
            raise ActionError(f"action {name} has bad arguments {args!r}: {e}") from None
        if a not in self.index:
            raise ActionError(
                f"action {a.describe()} is not in design {self.design.name} at these bounds"
            )
        return a

"""The operation framework: :class:`Action` (one frozen value per kernel entry point with
a pure transition ``apply(model, s) -> state or None``), the :func:`action` registration
decorator and the registry :data:`ACTIONS`.

``Action.apply(model, s)`` is stateright's ``next_state``: it returns the successor state
(``bytes``) or ``None`` when the action is not enabled in ``s`` (refused with an errno, or
would fault with SIGBUS, or has nothing to do).  It never mutates ``s``.  Transitions branch
on action arguments in plain Python and on the state through :mod:`daxcheck.spec.vocab`, and
every kernel step goes through a design hook (``D.<hook>``, :mod:`daxcheck.spec.kernel`).

Each class's ``instances(L, design)`` enumerates its argument tuples in a fixed order, so
the model's action list, and therefore every trace, replays by action.  A user's file adds a
family with :func:`action` (a frozen dataclass with ``name``, ``instances`` and ``apply``);
a design explores it when its name is in the design's ``families``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from dataclasses import fields as dc_fields
from typing import ClassVar

from ..arguments import show_arg
from ..kernel import warn

ACTIONS: dict[str, type[Action]] = {}
"""Every action family by name, in registration order: the shipped ones, then users' in
the order their files were loaded.  That order is a model's family order (deterministic,
so traces replay by action)."""


class ActionDefinitionError(TypeError):
    """A user's action family was defined wrongly (no name, name taken, no apply or
    instances, not a dataclass); the message names it."""


def action(cls):
    """Class decorator registering an action family under ``cls.name``.

    ``cls`` must subclass :class:`Action`, set a class attribute ``name`` and define
    ``apply(self, model, s)`` and ``instances(cls, L, D)``; a class that is not yet a
    dataclass is made a frozen one.  Registering the same class again (the same user file
    loaded twice) replaces it in place; a name taken by another family raises
    ActionDefinitionError."""
    if not (isinstance(cls, type) and issubclass(cls, Action)):
        raise ActionDefinitionError(
            f"@action {getattr(cls, '__name__', cls)!r} must subclass daxcheck.spec.ops.Action"
        )
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ActionDefinitionError(
            f"@action {cls.__name__} needs a class attribute name: ClassVar[str] = '<family>'"
        )
    for m in ("apply", "instances"):
        if getattr(cls, m) is getattr(Action, m):
            raise ActionDefinitionError(f"@action {name} does not define {m}()")
    if not dataclasses.is_dataclass(cls) or "__dataclass_fields__" not in cls.__dict__:
        cls = dataclass(frozen=True)(cls)
    elif not cls.__dataclass_params__.frozen:
        raise ActionDefinitionError(f"@action {name} must be a frozen dataclass")
    old = ACTIONS.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ActionDefinitionError(
            f"action family {name} is already registered ({old.__module__}.{old.__qualname__})"
        )
    ACTIONS[name] = cls
    warn.declare_warnings_of(cls)
    return cls


@dataclass(frozen=True)
class Action:
    """Base of all actions.  ``name`` is the family; ``free`` lists arguments that never
    change whether the action is enabled (the explorer skips a group of instances that
    differ only in those once one of them is disabled); ``fields`` names the ghost fields
    a user's family needs (declared with :func:`~daxcheck.spec.state.ghost_field`)."""

    name: ClassVar[str] = "?"
    free: ClassVar[tuple] = ()

    def apply(self, m, s):  # pragma: no cover - abstract
        raise NotImplementedError

    def args(self) -> dict:
        """The arguments as a JSON-able dict (ITF ``#meta``)."""
        return {f.name: getattr(self, f.name) for f in dc_fields(self)}

    def guard_key(self):
        """Arguments that decide enabledness (all but ``free``)."""
        return (self.name,) + tuple(
            getattr(self, f.name) for f in dc_fields(self) if f.name not in self.free
        )

    def describe(self) -> str:
        """Short human form with argument names, e.g. ``fault(proc=P0, file=a, idx=0,
        write=true)`` (values shown by :func:`~daxcheck.spec.arguments.show_arg`)."""
        return (
            f"{self.name}("
            + ", ".join(
                f"{f.name}={show_arg(f.name, getattr(self, f.name))}" for f in dc_fields(self)
            )
            + ")"
        )

    @classmethod
    def instances(cls, L, D):  # pragma: no cover - abstract
        raise NotImplementedError

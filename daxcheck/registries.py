"""Every name registry of daxcheck in one list, and their isolation.

A registry is a module-level ``dict`` that user code adds to: properties and lemmas
(``@invariant``, ``@lemma``), designs (``register_design``), action families (``@action``)
kernel functions (``@kernel_function``: a user file's hooks with their defaults) and the
user files loaded so far.  :data:`REGISTRIES` lists them; a registry added later
joins snapshots, isolation and user-file bookkeeping by one line there.

:func:`isolated` snapshots every registry and restores it afterwards, so a test suite (the
pytest plugin's ``daxcheck`` fixture) can define invariants and designs, or load the same user
file, any number of times in one process.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager

REGISTRIES = (
    ("properties", "daxcheck.properties.registry", "PROPERTIES"),
    ("lemmas", "daxcheck.properties.registry", "LEMMAS"),
    ("designs", "daxcheck.spec.designs", "DESIGNS"),
    ("actions", "daxcheck.spec.ops", "ACTIONS"),
    ("split_families", "daxcheck.spec.ops.split", "SPLIT_FAMILIES"),
    ("lock_kinds", "daxcheck.spec.locks", "LOCK_KINDS"),
    ("ghost_fields", "daxcheck.spec.state", "GHOST_FIELDS"),
    ("warnings", "daxcheck.spec.state", "WARNINGS"),
    ("hooks", "daxcheck.spec.kernel.registry", "KERNEL_FUNCTIONS"),
    ("user_state", "daxcheck.spec.user_state", "CRASH_SEMANTICS"),
    ("user_files", "daxcheck.userfile", "LOADED"),
    ("given_files", "daxcheck.userfile", "GIVEN"),
)
"""``(key, module, attribute)`` of every registry (a ``dict`` keyed by name)."""

NAMED = (
    "properties",
    "lemmas",
    "designs",
    "actions",
    "ghost_fields",
    "warnings",
    "hooks",
    "user_state",
)
"""The registries whose entries a user file defines (what it "added")."""

ENTRY_TYPES = {
    "properties": ("daxcheck.properties.registry", "Property", "an @invariant Property"),
    "lemmas": ("daxcheck.properties.registry", "Property", "a @lemma Property"),
    "designs": ("daxcheck.spec.designs", "Design", "a Design (register_design)"),
    "actions": ("daxcheck.spec.ops", "Action", "an Action subclass"),
}
"""``key: (module, class, what)``: the type an entry of a registry of :data:`NAMED` must
have (an instance of the class; for actions, a subclass of it)."""


def check_entry(key: str, value) -> str | None:
    """Why ``value`` cannot be an entry of registry ``key`` (e.g. "is 5 (int), not a Design
    (register_design)"), or None when it can (or the registry has no declared type)."""
    if key not in ENTRY_TYPES:
        return None
    mod, cls_name, what = ENTRY_TYPES[key]
    cls = getattr(importlib.import_module(mod), cls_name)
    ok = (
        (isinstance(value, type) and issubclass(value, cls))
        if key == "actions"
        else isinstance(value, cls)
    )
    if ok:
        return None
    shown = " ".join(repr(value).split())
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"is {shown} ({type(value).__name__}), not {what}"


def registries() -> dict[str, dict]:
    """``{key: the registry dict itself}`` for every entry of :data:`REGISTRIES`."""
    return {key: getattr(importlib.import_module(mod), attr) for key, mod, attr in REGISTRIES}


def snapshot() -> dict[str, dict]:
    """A shallow copy of every registry, for :func:`restore`."""
    return {key: dict(reg) for key, reg in registries().items()}


def restore(snap: dict[str, dict]) -> None:
    """Put every registry back to ``snap`` (in place: modules holding a reference to a
    registry see the restored contents)."""
    for key, reg in registries().items():
        if key in snap:
            reg.clear()
            reg.update(snap[key])


def names() -> dict[str, set]:
    """``{key: set of names}`` for the registries of :data:`NAMED`."""
    regs = registries()
    return {key: set(regs[key]) for key in NAMED}


@contextmanager
def isolated():
    """Run the block with every registry restored to its current contents afterwards
    (whatever the block registered, loaded or removed is undone, also on an exception)."""
    snap = snapshot()
    try:
        yield
    finally:
        restore(snap)

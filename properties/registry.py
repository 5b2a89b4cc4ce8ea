"""Registry of named invariants (state predicates) and loading of users' property files.

A property is a function ``pred(L, s) -> bool`` over a layout ``L`` and a state ``s``,
written in :mod:`daxcheck.spec.vocab` so both engines can evaluate it, registered with the
:func:`invariant` decorator.  Its docstring says in English what it means and which kernel
bug it catches; the decorator rejects a property without one (Hypothesis-style
``InvalidDefinition`` at definition time).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

PROPERTIES: dict[str, "Property"] = {}


class InvalidDefinition(TypeError):
    """A property was defined wrongly (no docstring, wrong signature, duplicate name)."""


class PropertyFileError(ValueError):
    """A user's property file could not be loaded; the message names file and cause."""


@dataclass(frozen=True)
class Property:
    """A registered invariant: ``name``, predicate ``fn(L, s) -> bool``, English ``doc``,
    and ``origin`` (``shipped`` or the user's file)."""

    name: str
    fn: Callable
    doc: str
    origin: str = "shipped"

    def holds(self, L, s) -> bool:
        """Evaluate the invariant on state ``s``."""
        return self.fn(L, s)

    @property
    def summary(self) -> str:
        """First sentence of the docstring."""
        return " ".join(self.doc.split()).split(". ")[0].rstrip(".") + "."


_origin = "shipped"


def invariant(fn: Callable | None = None, *, name: str | None = None):
    """Decorator registering ``fn(L, s) -> bool`` as an invariant named ``name`` (default:
    the function name).  Raises InvalidDefinition for a missing docstring, a signature
    that is not two positional parameters, or a name already registered."""

    def register(f):
        nm = name or f.__name__
        doc = inspect.getdoc(f)
        if not doc:
            raise InvalidDefinition(f"property {nm} has no docstring saying what it means")
        params = list(inspect.signature(f).parameters.values())
        if len(params) != 2:
            raise InvalidDefinition(f"property {nm} must take (L, s), not {len(params)} parameters")
        if nm in PROPERTIES:
            raise InvalidDefinition(f"property {nm} is already registered "
                                    f"(from {PROPERTIES[nm].origin})")
        PROPERTIES[nm] = Property(nm, f, doc, _origin)
        return f

    return register(fn) if fn is not None else register


def load_properties_file(path: str) -> list[str]:
    """Import a user's Python file whose ``@invariant`` functions add to the registry.
    Returns the names it added.  Raises PropertyFileError (missing file, syntax or import
    error, a bad definition, or no property defined)."""
    global _origin
    from daxcheck.userfile import UserFileError, import_user_file
    before = set(PROPERTIES)
    _origin = str(path)
    try:
        import_user_file(path, "property")
    except UserFileError as e:
        cause = e.__cause__
        if isinstance(cause, InvalidDefinition):
            raise PropertyFileError(f"{path}: {cause}") from None
        raise PropertyFileError(str(e)) from None
    finally:
        _origin = "shipped"
    added = [n for n in PROPERTIES if n not in before]
    if not added:
        raise PropertyFileError(f"{path} defines no @invariant property")
    return added

"""Registry of named invariants (state predicates) and loading of users' property files.

A property is a function ``pred(L, s) -> bool`` over a layout ``L`` and a state ``s``,
written in :mod:`daxcheck.spec.vocab` so both engines can evaluate it, registered with the
:func:`invariant` decorator.  Its docstring says in English what it means and which kernel
bug it catches; the decorator rejects a property without one (Hypothesis-style
``InvalidDefinition`` at definition time).
"""
from __future__ import annotations

import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
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
    p = Path(path)
    if not p.is_file():
        raise PropertyFileError(f"property file {path} does not exist")
    before = set(PROPERTIES)
    spec = importlib.util.spec_from_file_location(f"daxcheck_user_props_{p.stem}", p)
    mod = importlib.util.module_from_spec(spec)
    _origin = str(p)
    try:
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    except InvalidDefinition as e:
        raise PropertyFileError(f"{path}: {e}") from None
    except Exception as e:  # a user's file: report any failure in one line
        line = ""
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(p):
                line = f" line {tb.tb_lineno}"
            tb = tb.tb_next
        if isinstance(e, SyntaxError):
            line = f" line {e.lineno}"
        raise PropertyFileError(f"{path}{line}: {type(e).__name__}: {e}") from None
    finally:
        _origin = "shipped"
    added = [n for n in PROPERTIES if n not in before]
    if not added:
        raise PropertyFileError(f"{path} defines no @invariant property")
    return added

"""Resolving what a run names: user files, designs, properties, models.

The layer below the engines and the runner: it turns the names and files of a command
line (or of a trace's or manifest's ``#meta``) into registered designs, properties and a
:class:`~daxcheck.spec.model.DaxModel`, and knows no engine.  Bad input (unknown names,
bounds out of range, unreadable user files) raises :class:`InputError` with a one-line
message; the CLI prints it and exits 2.  :mod:`.runner` re-exports every name here.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

from daxcheck.properties import LEMMAS, PROPERTIES, PropertyFileError, load_properties_file
from daxcheck.spec.designs import DESIGNS, Design, DesignError, hooks
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import ACTIONS
from daxcheck.spec.state import BoundsError
from daxcheck.supervisor import phase
from daxcheck.usercode import guard_design
from daxcheck.userfile import GIVEN, UserFileError, import_user_file

from .results import InputError, did_you_mean


def load_designs_file(path: str) -> list[str]:
    """Import a user's Python file that calls ``register_design``; returns the names it
    added.  Raises InputError (missing file, error in it, no design registered)."""
    try:
        added = import_user_file(path, "design").names("designs")
    except UserFileError as e:
        raise InputError(str(e) + _design_hint(str(e))) from None
    if not added:
        raise InputError(f"{path} registers no design (call register_design)")
    for line in hook_typos(added):
        sys.stderr.write(f"daxcheck: warning: {line}\n")
    return added


def hook_typos(names) -> list[str]:
    """Warnings, one line each, for a method of a registered design's class (``names``:
    design names) that is no hook of :class:`~daxcheck.spec.designs.Design` but is close to
    one (a mistyped override, which would silently change nothing)."""
    known = [h for h, _ in hooks()]
    out = []
    for cls in dict.fromkeys(type(DESIGNS[n]) for n in names if n in DESIGNS):
        for attr, v in vars(cls).items():
            if (
                attr.startswith("_")
                or not callable(v)
                or hasattr(Design, attr)
                or attr in Design._OLD_HOOKS
                or attr == "cow_allowed"
            ):  # earlier names
                continue
            hint = did_you_mean(attr, known)
            if hint:
                out.append(f"{cls.__name__}.{attr} overrides no hook{hint}")
    return out


def _design_hint(msg: str) -> str:
    """A "did you mean" for a design file's error naming an unknown setting or action
    family (:class:`~daxcheck.spec.designs.DesignError`), else ""."""
    m = re.search(r"unknown setting '([^']*)'", msg)
    if m:
        return did_you_mean(m.group(1), [f.name for f in dataclasses.fields(Design)])
    m = re.search(r"unknown action famil(?:y|ies) ([\w, ]+)", msg)
    if m:
        return did_you_mean(m.group(1).split(",")[0].strip(), ACTIONS)
    return ""


def load_user_files(designs_file=None, properties_file=None) -> None:
    """Load the optional user design and property files (None: not given; InputError on
    failure, an empty path included).  They are noted in :data:`daxcheck.userfile.GIVEN`:
    files given on the command line take precedence over those a trace or manifest
    records.  Under the supervisor a limited phase: a file that never finishes loading is
    stopped by ``--time-limit``."""
    if designs_file is not None or properties_file is not None:
        phase(
            "loading user files "
            + " ".join(f for f in (designs_file, properties_file) if f is not None),
            limited=True,
        )
    for f, kind in ((designs_file, "designs"), (properties_file, "properties")):
        if f:
            GIVEN[str(Path(f).resolve())] = kind
    if designs_file is not None:
        load_designs_file(designs_file)
    if properties_file is not None:
        try:
            load_properties_file(properties_file)
        except PropertyFileError as e:
            raise InputError(str(e)) from None


def pick(names, registry, what):
    """The registry entries named (all when ``names`` is empty).  InputError for an
    unknown name, listing the valid ones."""
    if not names:
        return list(registry.values())
    out = []
    for n in names:
        if n not in registry:
            raise InputError(
                f"unknown {what} {n!r}{did_you_mean(n, registry)} (valid: {', '.join(registry)})"
            )
        out.append(registry[n])
    return out


def pick_properties(names):
    """The invariants named (all shipped and user invariants when ``names`` is empty); a
    lemma's name is accepted too, so ``check --property <lemma>`` confirms a lemma with
    the explicit engine.  InputError for an unknown name."""
    return pick(names, PROPERTIES if not names else {**PROPERTIES, **LEMMAS}, "property")


def make_model(design, overrides: dict) -> DaxModel:
    """Model of ``design`` at its default bounds with ``overrides`` (None values ignored);
    a design with user code runs guarded (:func:`daxcheck.usercode.guard_design`).
    InputError for bounds out of range."""
    try:
        return DaxModel(guard_design(design), design.bounds.replace(**overrides))
    except (BoundsError, DesignError) as e:
        raise InputError(str(e)) from None

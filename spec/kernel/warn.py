"""Kernel WARNs (include/asm-generic/bug.h ``WARN_ON_ONCE``): declaring the messages a
transition may report and :func:`warn_on`, which records the first one reached in the
``warning`` state field (read by the built-in invariant ``no_kernel_warning``)."""

from __future__ import annotations

import ast
import inspect

from ..state import WARNINGS
from ..vocab import And, If


# --------------------------------------------------------------------------- kernel WARNs
class SpecError(ValueError):
    """A transition or hook was written wrongly (e.g. an undeclared WARN message); the
    message names the problem."""


def kernel_warning(msg: str, origin: str = "shipped") -> str:
    """Declare a kernel WARN message (``"function: condition"``) that :func:`warn_on` may
    report; returns ``msg``.  Declaring it again is a no-op.  Messages are numbered in
    declaration order (shipped ones first, then each user file's, in the order the files
    are loaded), which is what the ``warning`` state field stores."""
    if not isinstance(msg, str) or not msg:
        raise SpecError("a kernel warning message must be a non-empty string")
    if msg not in WARNINGS:
        WARNINGS[msg] = origin
    return msg


def declare_warnings_in(source: str, origin: str) -> list[str]:
    """Declare every ``warn_on(..., "literal message")`` of Python ``source`` (a spec module
    or a user's file, parsed, not run), in source order, so a message's number does not
    depend on which transition happens to run first.  Returns the messages found."""
    found: list[str] = []
    try:
        tree = ast.parse(source, origin)
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        func = getattr(node, "func", None)
        name = getattr(func, "id", getattr(func, "attr", None))
        if isinstance(node, ast.Call) and name == "warn_on":
            for arg in node.args[-1:]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append(arg.value)
    for msg in sorted(set(found), key=found.index):
        kernel_warning(msg, origin)
    return found


def warn_on(L, d, cond, msg: str) -> None:
    """``WARN_ON_ONCE(cond)`` with message ``msg``: if ``cond`` holds and no warning was
    reached before, record ``msg``'s number in the ``warning`` field (sticky, like the
    first splat in dmesg).  The built-in invariant ``no_kernel_warning`` fails in any state
    where a warning was reached, and the trace shows the message.  The transition goes on
    (the kernel continues after a WARN).  Raises SpecError for a message not declared
    (literal messages in spec modules and user files are declared when they load)."""
    try:
        i = list(WARNINGS).index(msg) + 1
    except ValueError:
        raise SpecError(
            f"kernel warning {msg!r} is not declared: write the message as a "
            f"string literal in the warn_on call or declare it with "
            f"kernel_warning()"
        ) from None
    o = L.warning
    d[o] = If(And(cond, d[o] == 0), i, d[o])


def declare_warnings_of(obj) -> None:
    """Declare the literal warn_on messages of the file defining ``obj`` (a user's action
    family or design class), in source order, when it is registered: a file's messages get
    the same numbers in every process that loads the same files in the same order (so a
    trace that records them replays)."""
    try:
        path = inspect.getsourcefile(obj if isinstance(obj, type) else type(obj))
    except TypeError:
        return
    if path and not path.startswith("<"):
        try:
            with open(path, encoding="utf-8") as fh:
                declare_warnings_in(fh.read(), path)
        except OSError:
            pass


def declare_module_warnings(module_file: str) -> None:
    """Declare the literal warn_on messages of a shipped spec module (called at the end of
    each module, so the numbering is fixed by import order)."""
    with open(module_file, encoding="utf-8") as fh:
        declare_warnings_in(fh.read(), "shipped")

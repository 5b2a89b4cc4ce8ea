"""What every command shares: one-line errors, the paths a command line names, exit codes.

Light on purpose (no spec, no engine): the supervisor's parent process imports it through
:func:`preflight_argv` (:mod:`daxcheck.supervisor`).
"""

from __future__ import annotations

import errno
import os
import sys
import traceback as tb_mod
from pathlib import Path

from rich.markup import escape

from daxcheck.usercode import safe_str

from ..results import EXIT_BAD_INPUT, EXIT_UNEXPECTED, EXIT_USER_CODE, InputError
from .parser import build_parser

EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (SIGINT), as a shell reports a process it interrupted."""
EXIT_TERMINATED = 143
"""Exit code after SIGTERM (128 + 15)."""

PATH_OPTIONS = (
    "file",
    "manifest",
    "out",
    "json",
    "junit",
    "summary",
    "html",
    "pmem",
    "designs",
    "properties",
    "checkpoint",
    "resume",
)
"""Arguments that name files or folders (an empty one is bad input, not "the current
folder" or "not given")."""

OUTPUT_FILES = ("json", "junit", "summary", "html")
"""Options naming a file daxcheck writes (``graph --out`` too)."""


def esc(text) -> str:
    """``text`` with rich markup escaped (paths and names a user chose are printed inside
    markup strings)."""
    return escape(str(text))


def one_line(e) -> str:
    """``e``'s message on one line (whitespace collapsed; an ``__str__`` that raises is
    survived: :func:`daxcheck.usercode.safe_str`)."""
    return " ".join(safe_str(e).split())


def internal_error(e: BaseException, *, traceback: bool) -> int:
    """A failure in daxcheck's own code: one line naming the exception and where it was
    raised (exit 1), the full traceback with ``--traceback``."""
    if traceback:
        tb_mod.print_exception(e, file=sys.stderr)
    frames = tb_mod.extract_tb(e.__traceback__)
    at = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    msg = one_line(e)[:300]
    sys.stderr.write(
        f"daxcheck: internal error: {type(e).__name__}"
        f"{': ' + msg if msg else ''}{at} (please report it; --traceback shows "
        f"the full one)\n"
    )
    return EXIT_UNEXPECTED


def user_code_error(e, args) -> int:
    """Report a user's code that raised: one line (exit 3), the traceback with
    ``--traceback``."""
    if getattr(args, "traceback", False):
        tb_mod.print_exception(e.__cause__ or e, file=sys.stderr)
    sys.stderr.write(f"daxcheck: error: {one_line(e)}\n")
    return EXIT_USER_CODE


def user_flags(args) -> list:
    """``--designs F``/``--properties F`` of this run as command-line words."""
    out = []
    for flag, f in (
        ("--designs", getattr(args, "designs", None)),
        ("--properties", getattr(args, "properties", None)),
    ):
        if f:
            out += [flag, f]
    return out


def path_flags(args) -> list[tuple[str, str, str]]:
    """``(flag, path, kind)`` for every path of ``args``: kind "file" (written), "dir" (a
    folder written into), "input" (read)."""
    out = []
    for name in PATH_OPTIONS:
        v = getattr(args, name, None)
        if not isinstance(v, str) or not v:
            continue
        flag = name if name in ("file", "manifest") else "--" + name
        if name == "out":
            if getattr(args, "no_write", False):
                continue
            kind = "file" if args.cmd == "graph" else "dir"
        elif name == "checkpoint":
            kind = "dir"
        elif name in OUTPUT_FILES:
            kind = "file"
        else:
            kind = "input"
        out.append((flag, v, kind))
    return out


def refuse_empty_paths(args) -> None:
    """InputError for an empty path argument (``--json ''``)."""
    for name in PATH_OPTIONS:
        if getattr(args, name, None) == "":
            flag = name if name in ("file", "manifest") else "--" + name
            raise InputError(f"{flag}: an empty path")


def _existing_parent(path, kind):
    """``(folder, stat)`` of the nearest existing ancestor a written ``path`` would go in
    (``stat`` None when a component is a regular file)."""
    parent = Path(path).parent if kind == "file" else Path(path)
    while True:
        try:
            return parent, os.stat(parent)
        except (FileNotFoundError, NotADirectoryError) as e:
            if e.errno == errno.ENOTDIR or parent == parent.parent:
                return parent, None
            parent = parent.parent


def check_paths(args) -> None:
    """Refuse, before any work, a path of ``args`` the operating system would refuse at
    the end of the run: a name too long, a parent that is a regular file (``--out`` under a
    file), a destination folder that cannot be created or written.  Raises InputError
    naming the option and the path (exit 2)."""
    for flag, path, kind in path_flags(args):
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        except OSError as e:
            raise InputError(f"{flag} {path}: {e.strerror or e}") from None
        if kind == "input":
            continue
        if st is not None:
            if kind == "dir" and not os.path.isdir(path):
                raise InputError(f"{flag} {path}: exists and is not a folder")
            continue
        try:
            parent, pst = _existing_parent(path, kind)
        except OSError as e:
            raise InputError(f"{flag} {path}: {e.strerror or e}") from None
        if pst is None or not os.path.isdir(parent):
            raise InputError(
                f"{flag} {path}: a parent is not a folder ({first_file(path)} is a file)"
            )
        if not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"{flag} {path}: cannot create it: {parent} is not writable")


def first_file(path) -> str:
    """The first component of ``path`` that exists and is not a folder (or ``path``)."""
    p = Path(path)
    for q in list(reversed(p.parents)) + [p]:
        if q.exists() and not q.is_dir():
            return str(q)
    return str(path)


def user_path_error(e: BaseException, args) -> str | None:
    """One line for an OSError about a path the user gave (or a file inside the folder
    they gave), or None."""
    if not isinstance(e, OSError) or e.filename is None:
        return None
    name = str(e.filename)
    for flag, path, _ in path_flags(args):
        if name == path or name.startswith(path.rstrip("/") + "/"):
            inside = "" if name == path else f"{name}: "
            return f"{flag} {path}: {inside}{e.strerror or type(e).__name__}"
    return None


def preflight_argv(argv) -> tuple:
    """The supervisor's part of :func:`daxcheck.checker.cli.main`
    (:mod:`daxcheck.supervisor`): parse ``argv`` and check the paths it names, without
    importing the engines.  Returns ``(args, None)`` when the command may run, else
    ``(None, exit code)`` after one line on stderr (or argparse's help / version output)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:
        return None, e.code if isinstance(e.code, int) else EXIT_BAD_INPUT
    try:
        refuse_empty_paths(args)
        check_paths(args)
    except InputError as e:
        sys.stderr.write(f"daxcheck: error: {one_line(e)}\n")
        return None, EXIT_BAD_INPUT
    return args, None

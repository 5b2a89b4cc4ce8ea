"""Importing a user's Python file (extra properties or designs), once.

A file is imported as a fresh module the first time; loading the same file again (same
path, same contents, and what it registered still registered) returns the first load's
record instead of executing it twice, so ``--designs F --properties F``, a replay that
reloads the files a trace records, and a test suite that loads a file in every test all
work.  A file whose contents changed since is loaded again after what its previous version
registered is removed.  The record gives the names the file added to each registry of
:mod:`daxcheck.registries` and the file's SHA-256, which traces record in ``#meta``.

A user file is Python code run with the user's rights: nothing here is a sandbox.  What
is contained is its failure modes: the file is read once (a regular file under
:data:`~daxcheck.fileio.MAX_INPUT_BYTES`, whatever its suffix; a FIFO or a device is refused
before reading), compiled from exactly the bytes whose SHA-256 is recorded, and executed
without writing ``__pycache__`` beside it.  Any exception it raises while being imported,
``SystemExit`` (``sys.exit(0)``) and a ``KeyboardInterrupt`` it raises itself included, is a
one-line :class:`UserFileError` (exit 2), and what it registered is removed again; so is a
name it registered that is not a plain name (``[A-Za-z0-9][A-Za-z0-9_.+-]*``, at most 100
characters: names become file names) or an entry of the wrong type
(:func:`daxcheck.registries.check_entry`).
"""

from __future__ import annotations

import hashlib
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from daxcheck import registries
from daxcheck.fileio import InputFileError, read_input
from daxcheck.usercode import is_interrupt, safe_str


class UserFileError(ValueError):
    """The file is missing or raised while being imported; one-line message naming the
    file, the line (when known) and the error."""


@dataclass(frozen=True)
class UserFile:
    """A loaded user file: ``path`` (absolute), ``kind`` ("design" or "property"),
    ``sha256`` of its bytes, the ``module`` object and ``added``: ``{registry key: names}``
    it registered (keys of :data:`daxcheck.registries.NAMED`)."""

    path: str
    kind: str
    sha256: str
    module: object = field(repr=False, compare=False)
    added: dict = field(default_factory=dict, compare=False)

    def names(self, key: str) -> list:
        """The names this file added to registry ``key`` ("designs", "properties"...)."""
        return list(self.added.get(key, ()))


LOADED: dict[str, UserFile] = {}
"""User files loaded in this process, by absolute path (a registry: see
:mod:`daxcheck.registries`)."""


GIVEN: dict[str, str] = {}
"""User files named on this run's command line (``--designs``/``--properties``), by
absolute path: ``{path: "designs" | "properties"}``.  They take precedence over the files
a trace or a manifest records (a registry: see :mod:`daxcheck.registries`)."""


NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")
"""What a name a user file registers must look like (it becomes part of file names)."""


def file_sha256(path) -> str:
    """Hex SHA-256 of the regular file's bytes.  Raises OSError (missing, unreadable) or
    :class:`~daxcheck.fileio.InputFileError` (a ValueError: not a regular file, too
    large)."""
    try:
        return hashlib.sha256(read_input(path, "Python")).hexdigest()
    except InputFileError as e:
        if not Path(path).exists():
            raise FileNotFoundError(str(e)) from None
        raise


def import_user_file(path: str, kind: str) -> UserFile:
    """Import ``path`` (once, see the module docstring) and return its :class:`UserFile`.
    Raises UserFileError for a missing or special file, one over the size cap, any
    exception the file raises while it is imported (``SystemExit`` included), and a name or
    entry it registered that is not acceptable; what it registered is removed again."""
    p = Path(path)
    try:
        source = read_input(p, "Python")
    except InputFileError as e:
        msg = str(e)
        if msg.endswith(": no such file"):
            msg = f"{kind} file {path} does not exist"
        raise UserFileError(msg) from None
    key = str(p.resolve())
    digest = hashlib.sha256(source).hexdigest()
    regs = registries.registries()
    old = LOADED.get(key)
    if old is not None:
        if old.sha256 == digest and all(n in regs[k] for k, ns in old.added.items() for n in ns):
            return old
        for k, ns in old.added.items():  # a changed file replaces what it registered
            for n in ns:
                regs[k].pop(n, None)
        del LOADED[key]
    before = registries.snapshot()
    name = f"daxcheck_user_{kind}_{re.sub(r'[^0-9A-Za-z_]', '_', p.stem)}"
    mod = types.ModuleType(name)
    mod.__file__ = str(p)
    saved_module = sys.modules.get(name)
    sys.modules[name] = mod  # dataclasses and pickling look the module up by name
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # nothing is written beside a user's file
    streams = sys.stdout, sys.stderr
    try:
        code = compile(source, str(p), "exec", dont_inherit=True)
        exec(code, mod.__dict__)
        added = {k: tuple(n for n in regs[k] if n not in before[k]) for k in registries.NAMED}
        for k, ns in added.items():
            for n in ns:
                _check_registered(path, k, n, regs[k][n])
    except BaseException as e:  # a user's file: one line, no traceback
        registries.restore(before)
        if saved_module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = saved_module
        if is_interrupt(e):  # Ctrl-C or SIGTERM while importing: not the file's
            raise
        if isinstance(e, UserFileError):
            raise
        raise import_error(path, e) from e
    finally:
        sys.dont_write_bytecode = dont_write
        sys.stdout, sys.stderr = streams  # a file that replaced them (None) silences no error
    rec = UserFile(key, kind, digest, mod, {k: v for k, v in added.items() if v})
    LOADED[key] = rec
    return rec


def import_error(path, e: BaseException) -> UserFileError:
    """The one-line :class:`UserFileError` for exception ``e`` raised while the user file
    ``path`` was imported: the file's deepest line in the traceback (or a syntax error's
    line), the exception's type and message (``sys.exit()`` named as such)."""
    line = f" line {e.lineno}" if isinstance(e, SyntaxError) and e.lineno else ""
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(Path(path)):
            line = f" line {tb.tb_lineno}"
        tb = tb.tb_next
    what = " ".join(safe_str(e).split())
    if isinstance(e, SystemExit):
        what = f"the file called sys.exit({safe_str(e.code, repr)}) while being imported"
    return UserFileError(f"{path}{line}: {type(e).__name__}: {what[:300]}")


def _check_registered(path, key: str, name, value) -> None:
    """Raise UserFileError unless ``name`` is a plain name and ``value`` an entry of the
    right type for registry ``key`` (a kernel WARN message: one printable line)."""
    if key == "warnings":  # keyed by the WARN message itself, never a file name
        if (
            not isinstance(name, str)
            or not name.strip()
            or not name.isprintable()
            or len(name) > 200
        ):
            raise UserFileError(
                f"{path}: registers warning {name!r} "
                f"({type(name).__name__}): a kernel WARN message is one "
                f"printable line of at most 200 characters"
            )
        return
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise UserFileError(
            f"{path}: registers {key[:-1]} {name!r} ({type(name).__name__}): "
            f"a name is a string of letters, digits and _.+- (at most 100, "
            f"starting with a letter or digit)"
        )
    problem = registries.check_entry(key, value)
    if problem:
        raise UserFileError(f"{path}: registers {key[:-1]} {name}: {problem}")


def provenance(key: str, name: str) -> UserFile | None:
    """The loaded user file that registered ``name`` in registry ``key`` ("designs",
    "properties", "lemmas", "actions"), or None (shipped, or defined outside a user file)."""
    for rec in LOADED.values():
        if name in rec.added.get(key, ()):
            return rec
    return None

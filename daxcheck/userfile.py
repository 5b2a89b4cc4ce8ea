"""Importing a user's Python file (extra properties or designs), once.

A file is imported as a fresh module the first time; loading the same file again (same
path, same contents, and what it registered still registered) returns the first load's
record instead of executing it twice, so ``--designs F --properties F``, a replay that
reloads the files a trace records, and a test suite that loads a file in every test all
work.  A file whose contents changed since is loaded again after what its previous version
registered is removed.  The record gives the names the file added to each registry of
:mod:`daxcheck.registries` and the file's SHA-256, which traces record in ``#meta``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path


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


def file_sha256(path) -> str:
    """Hex SHA-256 of the file's bytes (OSError if unreadable)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def import_user_file(path: str, kind: str) -> UserFile:
    """Import ``path`` (once, see the module docstring) and return its :class:`UserFile`.
    Raises UserFileError for a missing file or any exception the file raises while it is
    imported (what it registered before raising is removed again)."""
    from daxcheck import registries
    p = Path(path)
    if not p.is_file():
        raise UserFileError(f"{kind} file {path} does not exist")
    key = str(p.resolve())
    try:
        digest = file_sha256(p)
    except OSError as e:
        raise UserFileError(f"{kind} file {path} cannot be read: {e.strerror}") from None
    regs = registries.registries()
    old = LOADED.get(key)
    if old is not None:
        if old.sha256 == digest and all(n in regs[k] for k, ns in old.added.items() for n in ns):
            return old
        for k, ns in old.added.items():       # a changed file replaces what it registered
            for n in ns:
                regs[k].pop(n, None)
        del LOADED[key]
    before = registries.snapshot()
    spec = importlib.util.spec_from_file_location(f"daxcheck_user_{kind}_{p.stem}", p)
    mod = importlib.util.module_from_spec(spec)
    try:
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    except Exception as e:  # a user's file: one line, no traceback
        registries.restore(before)
        line = f" line {e.lineno}" if isinstance(e, SyntaxError) else ""
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(p):
                line = f" line {tb.tb_lineno}"
            tb = tb.tb_next
        raise UserFileError(f"{path}{line}: {type(e).__name__}: {e}") from e
    after = registries.names()
    added = {k: tuple(n for n in regs[k] if n not in before[k]) for k in after}
    rec = UserFile(key, kind, digest, mod, {k: v for k, v in added.items() if v})
    LOADED[key] = rec
    return rec


def provenance(key: str, name: str) -> UserFile | None:
    """The loaded user file that registered ``name`` in registry ``key`` ("designs",
    "properties", "lemmas", "actions"), or None (shipped, or defined outside a user file)."""
    for rec in LOADED.values():
        if name in rec.added.get(key, ()):
            return rec
    return None

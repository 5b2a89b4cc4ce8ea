"""Importing a user's Python file (extra properties or designs)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


class UserFileError(ValueError):
    """The file is missing or raised while being imported; one-line message naming the
    file, the line (when known) and the error."""


def import_user_file(path: str, kind: str):
    """Import ``path`` as a fresh module (name derived from ``kind`` and the file stem) and
    return it.  Raises UserFileError for a missing file or any exception it raises."""
    p = Path(path)
    if not p.is_file():
        raise UserFileError(f"{kind} file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"daxcheck_user_{kind}_{p.stem}", p)
    mod = importlib.util.module_from_spec(spec)
    try:
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    except Exception as e:  # a user's file: one line, no traceback
        line = f" line {e.lineno}" if isinstance(e, SyntaxError) else ""
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(p):
                line = f" line {tb.tb_lineno}"
            tb = tb.tb_next
        raise UserFileError(f"{path}{line}: {type(e).__name__}: {e}") from e
    return mod

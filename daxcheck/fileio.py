"""Reading a user's files safely and writing daxcheck's own files atomically.

Every file daxcheck reads on a user's behalf (traces, manifests, property and design files)
goes through :func:`read_input` (or :func:`read_json`): it refuses anything but a regular
file (a FIFO, ``/dev/zero``, a directory) and files over a size cap *before* reading a byte,
opening with ``O_NONBLOCK`` so that a FIFO never blocks, and it reads at most the cap.

Every file daxcheck writes (counterexample traces, the gate's manifest, ``--json``,
``--junit``, ``--summary``, ``view --html``, ``graph --out``) goes through
:func:`atomic_write`: the data goes to a uniquely named temporary file in the destination
folder (``.<name>.<random>.daxcheck-tmp``, created with ``O_EXCL``, so a user's own
``x.itf.json.tmp`` is never touched), is flushed and fsync'd, and replaces the destination
with ``os.replace``; on every exit path (an exception such as ENOSPC, Ctrl-C, SIGTERM, which
:mod:`daxcheck.checker.cli` turns into an exception) the temporary file is removed and the
destination is left as it was.  Only SIGKILL can leave a temporary file behind (its name ends
in ``.daxcheck-tmp``).  A destination that exists and is not a regular file (a FIFO, a device,
a directory) is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from pathlib import Path

MAX_INPUT_BYTES = 16 << 20
"""Largest input file read (bytes): a trace at the largest bounds is well under 2 MiB."""

MAX_JSON_NESTING = 32
"""Deepest JSON nesting accepted (an ITF state value nests at most 12 levels)."""

TMP_SUFFIX = ".daxcheck-tmp"
"""Suffix of :func:`atomic_write`'s temporary files."""


class InputFileError(ValueError):
    """A file cannot be read as input: missing, not a regular file, too large, unreadable,
    not UTF-8 text or not JSON.  The message is one line starting with the path."""


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(mode: int) -> str:
    """What a ``st_mode`` describes, for messages: "a regular file", "a FIFO", ..."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def read_input(path, what: str = "file", limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file ``path`` (``what`` names it in messages, e.g. "trace").

    Raises InputFileError ("no such file", "is a FIFO, not a regular trace file", "is
    20,000,000 bytes, over the 16,777,216-byte limit", "cannot read trace: Permission
    denied"); nothing is read from a special file and a FIFO does not block
    (``O_NONBLOCK``)."""
    return _read_regular(path, what, limit)


def _read_regular(
    path, what: str, limit: int | None, head: int | None = None, *, missing_ok: bool = False
) -> bytes | None:
    """:func:`read_input` (``limit`` bytes at most), or with ``head`` just the first
    ``head`` bytes whatever the size; None for a missing file when ``missing_ok``."""
    p = os.fspath(path)
    kind = f"{what} " if what else ""
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if missing_ok:
            return None
        raise InputFileError(f"{p}: no such file") from None
    except OSError as e:
        raise InputFileError(f"{p}: cannot read {kind}".rstrip() + f": {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputFileError(f"{p}: is {kind_of(st.st_mode)}, not a regular {kind}file")
        if head is not None:
            return os.read(fd, head)
        if st.st_size > limit:
            raise InputFileError(
                f"{p}: is {st.st_size:,} bytes, over the {limit:,}-byte limit for a {what}"
            )
        chunks, left = [], limit + 1
        while left > 0:
            b = os.read(fd, min(left, 1 << 20))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        data = b"".join(chunks)
        if len(data) > limit:
            raise InputFileError(
                f"{p}: grew past the {limit:,}-byte limit for a {what} while being read"
            )
        return data
    except OSError as e:
        raise InputFileError(f"{p}: cannot read {kind}".rstrip() + f": {e.strerror}") from None
    finally:
        os.close(fd)


def nesting_depth(doc, stop: int = MAX_JSON_NESTING) -> int:
    """Nesting depth of a JSON value (a scalar is 0, ``[]`` is 1), computed without
    recursion; stops counting past ``stop``."""
    deepest, todo = 0, [(doc, 0)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            d += 1
            deepest = max(deepest, d)
            if deepest > stop:
                return deepest
            todo.extend((x, d) for x in v)
    return deepest


def parse_json(data: bytes, p: str, max_nesting: int = MAX_JSON_NESTING):
    """Decode ``data`` (UTF-8 JSON read from ``p``); raises InputFileError naming ``p`` for
    non-UTF-8 bytes, invalid or truncated JSON (``NaN`` and ``Infinity`` included), integers
    of more than 4,300 digits, and nesting deeper than ``max_nesting``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputFileError(
            f"{p}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})"
        ) from None
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise InputFileError(
            f"{p}: not valid JSON (truncated?): {e.msg} at line {e.lineno}"
        ) from None
    except RecursionError:
        raise InputFileError(f"{p}: not valid JSON: nested too deeply") from None
    except ValueError as e:  # e.g. an integer of more than 4,300 digits
        raise InputFileError(f"{p}: not valid JSON: {' '.join(str(e).split())[:160]}") from None
    if nesting_depth(doc, max_nesting) > max_nesting:
        raise InputFileError(f"{p}: JSON nested more than {max_nesting} levels deep")
    return doc


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def read_json(
    path, what: str = "file", limit: int = MAX_INPUT_BYTES, max_nesting: int = MAX_JSON_NESTING
):
    """:func:`read_input` then :func:`parse_json`: the JSON document in ``path``."""
    return parse_json(read_input(path, what, limit), os.fspath(path), max_nesting)


def read_head(path, n: int = 400) -> str | None:
    """The first ``n`` bytes of the regular file ``path`` as text (undecodable bytes
    replaced), or None when it does not exist.  Raises InputFileError for a file that is not
    regular (nothing is read from it) or cannot be read."""
    data = _read_regular(path, "", None, head=n, missing_ok=True)
    return None if data is None else data.decode("utf-8", errors="replace")


def check_destination(path) -> bool:
    """Whether ``path`` exists; raises InputFileError when it exists and is not a regular
    file (a directory, a FIFO, a device: daxcheck replaces only regular files)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise InputFileError(f"{os.fspath(path)}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(f"{os.fspath(path)}: is {kind_of(st.st_mode)}, not a regular file")
    return True


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


_REDIRECT: list = []
"""The innermost :func:`redirected_writes` sink and filter, if any."""


@contextlib.contextmanager
def redirected_writes(sink, keep=lambda path: False):
    """Within the block, :func:`atomic_write` hands ``(path as given, bytes)`` to
    ``sink`` instead of writing (after refusing a destination that is not a regular file),
    except for the paths ``keep(path)`` accepts, which are written as usual.  The
    supervisor's worker (:mod:`daxcheck.supervisor`) sends its result files to the parent
    process this way, so that the parent alone writes them; a checkpoint is kept."""
    _REDIRECT.append((sink, keep))
    try:
        yield
    finally:
        _REDIRECT.remove((sink, keep))


def atomic_write(path, data: bytes | str, *, mkdir: bool = True) -> None:
    """Write ``data`` (``str`` is UTF-8 encoded) to ``path`` atomically (see the module
    docstring): readers see the old file or the new one, never a part, and on any failure
    nothing is left behind.  ``mkdir`` creates missing parent folders.  A new file gets the
    usual mode (0666 & ~umask), a replaced one keeps its mode.  Raises OSError (e.g. ENOSPC,
    EACCES) or InputFileError for a destination that is not a regular file.  Inside
    :func:`redirected_writes` the data goes to its sink instead."""
    p = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    existed = check_destination(p)
    if _REDIRECT and not _REDIRECT[-1][1](p):
        _REDIRECT[-1][0](os.fspath(path), data)
        return
    mode = os.stat(p).st_mode & 0o7777 if existed else 0o666 & ~_umask()
    if mkdir:
        p.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        # The name is chosen before the file exists, so the cleanup below knows it whatever
        # instant an exception (Ctrl-C, SIGTERM) arrives at.
        tmp = p.parent / f".{p.name}.{secrets.token_hex(6)}{TMP_SUFFIX}"
        try:
            fd = os.open(tmp, flags, 0o600)
            break
        except FileExistsError:
            continue
        except BaseException:
            _unlink(tmp)
            raise
    else:
        raise FileExistsError(f"{p.parent}: cannot create a unique temporary file")
    try:
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, p)
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

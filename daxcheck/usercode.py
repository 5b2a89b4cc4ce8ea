"""Running a user's code (invariants, lemmas, design hooks) with one-line errors.

A user's predicate or design hook that raises while a state is checked is reported as one
line naming the user's ``file:line`` and the exception (:class:`UserCodeError`, exit 3),
never as a traceback through daxcheck internals; ``--traceback`` shows the original.  A
predicate that returns anything but a ``bool`` (``'yes'``, ``5``, ``[0]``) on a concrete
state is refused at its first evaluation the same way: it must never count as "holds".

During read-set analysis (the explicit engine's taint states) an exception other than
:class:`~daxcheck.spec.vocab.SymbolicUseError` (e.g. ``abs()`` of a taint symbol) is turned
into a SymbolicUseError, so the code is merely not memoised and the real evaluation on
bytes decides.  On Z3 terms exceptions pass through unchanged (the symbolic engine names the
construct itself).
"""
from __future__ import annotations

import copy
import functools
import inspect
import sysconfig
from pathlib import Path

from daxcheck.spec.vocab import SymbolicUseError


class UserCodeError(Exception):
    """A user's predicate, lemma or design hook raised, or a predicate returned a non-bool;
    the message is one line: ``file:line: ExceptionType: message (in ...)``.  The original
    exception is ``__cause__``."""


def _internal_roots() -> tuple[str, ...]:
    import daxcheck
    import daxcheck.checker
    import daxcheck.properties
    import daxcheck.spec
    roots = {str(Path(m.__file__).resolve().parent) for m in
             (daxcheck, daxcheck.spec, daxcheck.checker, daxcheck.properties)}
    paths = sysconfig.get_paths()
    roots |= {str(Path(paths[k]).resolve()) for k in ("stdlib", "platstdlib", "purelib", "platlib")
              if k in paths}
    return tuple(sorted(roots))


@functools.lru_cache(maxsize=4096)
def is_user_file(filename: str) -> bool:
    """Whether ``filename`` (a code object's ``co_filename``) is a user's file: neither
    daxcheck's own modules nor the standard library or installed packages."""
    if not filename or filename.startswith("<"):
        return False
    try:
        p = str(Path(filename).resolve())
    except OSError:
        return False
    return not any(p == r or p.startswith(r + "/") for r in _internal_roots())


def user_frame(exc: BaseException, files=None) -> tuple[str, int] | None:
    """``(file, line)`` of the deepest traceback frame of ``exc`` in a user's file (one of
    ``files`` when given, else any file :func:`is_user_file` accepts), or None."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        if (f in files) if files is not None else is_user_file(f):
            found = (f, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _short(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def raised(exc: BaseException, what: str, default: tuple[str, int] | None = None,
           files=None) -> UserCodeError:
    """The :class:`UserCodeError` for ``exc`` raised by user code ``what`` (e.g. "property
    p"): located at its deepest user frame (or ``default``)."""
    where = user_frame(exc, files) or default
    loc = f"{where[0]}:{where[1]}: " if where else ""
    err = UserCodeError(f"{loc}{_short(exc)} (in {what})")
    err.__cause__ = exc
    return err


def _is_taint(s) -> bool:
    from daxcheck.checker.explicit.readset import Dep, TaintState
    return isinstance(s, TaintState) or (isinstance(s, list) and bool(s) and isinstance(s[0], Dep))


def _source(fn) -> tuple[str, int] | None:
    code = getattr(fn, "__code__", None)
    return (code.co_filename, code.co_firstlineno) if code is not None else None


def guard_predicate(fn, what: str):
    """``fn(L, s, *item)`` wrapped for a user's invariant or lemma named in ``what`` (e.g.
    "property my_prop"): on a concrete state (``bytes``) an exception becomes a
    :class:`UserCodeError` and a result other than True/False is refused with one; on a
    taint state an exception becomes a SymbolicUseError (not analysable); on Z3 terms
    nothing changes."""
    src = _source(fn)

    @functools.wraps(fn)
    def guarded(L, s, *item):
        try:
            r = fn(L, s, *item)
        except SymbolicUseError:
            raise
        except Exception as e:
            if type(s) is bytes:
                raise raised(e, what, src) from e
            if _is_taint(s):
                raise SymbolicUseError(f"{what}: {_short(e)}") from e
            raise
        if type(s) is bytes and r is not True and r is not False:
            loc = f"{src[0]}:{src[1]}: " if src else ""
            raise UserCodeError(f"{loc}{what} returned {r!r} ({type(r).__name__}), not a bool: "
                                f"compare fields explicitly (s[o] != 0) and combine with "
                                f"And/Or/Not")
        return r

    guarded.__wrapped_user__ = fn
    return guarded


def _guard_method(fn, what: str):
    src = _source(fn)

    @functools.wraps(fn)
    def guarded(self, *args, **kw):
        try:
            return fn(self, *args, **kw)
        except SymbolicUseError:
            raise
        except Exception as e:
            s = args[1] if len(args) > 1 else None
            if _is_taint(s):
                raise SymbolicUseError(f"{what}: {_short(e)}") from e
            if isinstance(s, (list, tuple)):      # Z3 terms: the symbolic engine reports it
                raise
            raise raised(e, what, src) from e
    return guarded


def guard_design(design):
    """``design`` with every method defined in a user's file (a subclass overriding a hook
    such as ``hole_length``) wrapped so that an exception on a concrete state is a
    :class:`UserCodeError` naming the user's file and line (see the module docstring).
    A design without user code (a shipped one, or a ``variant`` that only changes settings)
    is returned as it is."""
    cls = type(design)
    methods = {}
    for klass in cls.__mro__:
        for name, attr in vars(klass).items():
            if name.startswith("__") or name in methods or not inspect.isfunction(attr):
                continue
            methods[name] = attr if is_user_file(attr.__code__.co_filename) else None
    user = {n: _guard_method(f, f"design hook {n}")
            for n, f in methods.items() if f is not None}
    if not user:
        return design
    guarded_cls = type(cls.__name__, (cls,), {**user, "__qualname__": cls.__qualname__,
                                              "__module__": cls.__module__})
    g = copy.copy(design)
    object.__setattr__(g, "__class__", guarded_cls)
    return g

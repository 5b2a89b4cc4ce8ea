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

``SystemExit`` (``sys.exit()``) and a ``KeyboardInterrupt`` that user code raises itself are
errors of the user's code like any other exception (exit 3 while checking; exit 2 while a
file is imported, :mod:`daxcheck.userfile`), never an exit of daxcheck.  A real Ctrl-C or
SIGTERM is told apart because daxcheck's own handlers (:func:`signal_handlers`, installed by
the CLI) raise :class:`Interrupted` / :class:`Terminated` instead.

:func:`deadline` bounds user code that never returns: when ``--time-limit`` runs out while a
user's frame is on the stack (an infinite loop in a predicate or hook), the run stops with
:class:`TimeLimitReached` naming the user's ``file:line``; engines turn that into an
"incomplete" verdict (exit 75).  User files run as Python code with the user's rights: this
contains mistakes, not malice (``os._exit`` or a fork cannot be contained in-process).
"""

from __future__ import annotations

import _thread
import _weakrefset
import copy
import functools
import gc
import importlib.util
import inspect
import os
import signal
import sys
import sysconfig
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path

from daxcheck.spec.vocab import SymbolicUseError
from daxcheck.supervisor import worker_exit


class UserCodeError(Exception):
    """A user's predicate, lemma or design hook raised, or a predicate returned a non-bool;
    the message is one line: ``file:line: ExceptionType: message (in ...)``.  The original
    exception is ``__cause__``."""


class Interrupted(KeyboardInterrupt):
    """A real Ctrl-C (SIGINT), raised by daxcheck's handler (:func:`signal_handlers`), so
    that it is not mistaken for a ``KeyboardInterrupt`` a user's code raised itself."""


class Terminated(Interrupted):
    """SIGTERM, turned into an exception so that every ``finally`` and context manager
    (the oracle's mount, temporary files) cleans up as it does for Ctrl-C."""


class TimeLimitReached(BaseException):
    """The hard deadline of :func:`deadline` fired.  ``where``: ``(file, line)`` of the
    innermost user frame running at that instant, or None (daxcheck's own code overran the
    limit by more than the grace period).  A BaseException, so a user's ``except Exception``
    does not swallow it."""

    def __init__(self, seconds: float, where: tuple[str, int] | None):
        self.seconds, self.where = seconds, where
        super().__init__(self.reason())

    def reason(self) -> str:
        """``time limit 2s reached in user code /x/mine.py:8`` (the "incomplete" reason)."""
        at = f" in user code {self.where[0]}:{self.where[1]}" if self.where else ""
        return f"time limit {self.seconds:g}s reached{at}"


_OWN_SIGNALS = False
_STOPS = {"count": 0}


def _stop(exc_type, code: int, what: str, signum: int, frame):
    """Raise ``exc_type``; when an earlier stop request was swallowed (a user's ``except
    BaseException`` in a loop), exit at once with ``code`` instead (CLI only).  A signal
    that arrives while a gc callback or a ``__del__`` runs (:func:`_unraisable`: Python
    would print the exception and drop it, and the run would go on) is sent again
    :data:`RESEND_AFTER` seconds later, from another thread (seen with hypothesis's gc
    callback under ``daxcheck oracle``, where a SIGTERM was lost).  Not sent from here:
    ``os.kill``, ``signal.raise_signal`` and ``_thread.interrupt_main`` all run the
    handler again at once, still inside that code."""
    if _unraisable(frame):
        _thread.start_new_thread(_resend, (signum,))
        return
    _STOPS["count"] += 1
    if _STOPS["count"] > 1:
        _exit_now(code, f"daxcheck: {what} (again: exiting at once)")
    raise exc_type()


RESEND_AFTER = 0.01
"""Seconds after which a signal that arrived inside a gc callback or ``__del__`` is sent
again (:func:`_stop`); again and again while such code still runs."""


def _resend(signum: int) -> None:
    time.sleep(RESEND_AFTER)
    os.kill(os.getpid(), signum)


WEAKREF_FILES = frozenset({weakref.__file__, _weakrefset.__file__})
"""Where the weak reference callbacks of the standard library live (:func:`_unraisable`)."""


def _unraisable(frame) -> bool:
    """Whether ``frame`` (a signal handler's) runs inside a gc callback, a ``__del__`` or a
    weak reference's callback (WeakKeyDictionary's ``remove``, seen under ``daxcheck
    oracle``), where an exception is reported as "unraisable" and dropped.  A frame of the
    weakref modules counts as one even when called normally: the signal is then only sent
    again a moment later."""
    codes = {getattr(cb, "__code__", None) for cb in gc.callbacks}
    while frame is not None:
        if (
            frame.f_code in codes
            or frame.f_code.co_name == "__del__"
            or frame.f_code.co_filename in WEAKREF_FILES
        ):
            return True
        frame = frame.f_back
    return False


def _exit_now(code: int, line: str):
    """Write ``line`` and end the process at once with ``code``, reported first to the
    supervisor's parent when this process is its worker (else the parent would see a
    worker that ended without a result)."""
    try:
        sys.stdout.flush()
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    finally:
        worker_exit(code)


def _on_sigint(signum, frame):
    _stop(Interrupted, 130, "interrupted", signum, frame)


def _on_sigterm(signum, frame):
    _stop(Terminated, 143, "terminated", signum, frame)


@contextmanager
def signal_handlers():
    """Within the block, SIGINT raises :class:`Interrupted` and SIGTERM :class:`Terminated`
    (a SIGTERM handler someone else installed is kept, but not the early one of
    :mod:`daxcheck.__main__`, marked ``daxcheck_early``); the previous handlers come back
    afterwards.  A second signal while the first one's exception is still unwinding (a
    user's code swallowed it) exits the process at once (130 or 143); so does a time limit
    whose stop a user's code keeps swallowing (:func:`deadline`, exit 75).  Only in the main
    thread (elsewhere the block runs unchanged)."""
    global _OWN_SIGNALS
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old_int = signal.signal(signal.SIGINT, _on_sigint)
    old_term = signal.getsignal(signal.SIGTERM)
    ours = old_term in (signal.SIG_DFL, None) or getattr(old_term, "daxcheck_early", False)
    if ours:
        signal.signal(signal.SIGTERM, _on_sigterm)
    was, _OWN_SIGNALS = _OWN_SIGNALS, True
    _STOPS["count"] = 0
    try:
        yield
    finally:
        _OWN_SIGNALS = was
        signal.signal(signal.SIGINT, old_int)
        if ours:
            signal.signal(signal.SIGTERM, old_term if old_term is not None else signal.SIG_DFL)


def is_interrupt(e: BaseException) -> bool:
    """Whether ``e`` stops daxcheck rather than being an error of a user's code: a real
    Ctrl-C or SIGTERM, or the time limit.  A ``KeyboardInterrupt`` counts as real unless
    daxcheck's handlers are installed (then a plain one was raised by code)."""
    if isinstance(e, (Interrupted, TimeLimitReached)):
        return True
    return isinstance(e, KeyboardInterrupt) and not _OWN_SIGNALS


def _user_exit(e: BaseException) -> bool:
    """``SystemExit``, or a ``KeyboardInterrupt`` raised by code: a user's error."""
    return isinstance(e, (SystemExit, KeyboardInterrupt)) and not is_interrupt(e)


def _frame_where(frame, outer=frozenset()) -> tuple[str, int] | None:
    """``(file, line)`` of the innermost user frame on the stack from ``frame`` outwards,
    stopping at the frames of ``outer`` (ids of the frames that entered the deadline: a
    user's script calling daxcheck is not where the time goes)."""
    while frame is not None and id(frame) not in outer:
        if is_user_file(frame.f_code.co_filename):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None


MAX_DEADLINE = 1e8
"""Longest deadline armed (seconds, about 3 years: ``setitimer`` overflows past ~1e9); a
longer time limit is clamped to it."""

DEADLINE_GRACE = 2.0
"""Seconds daxcheck's own code may overrun a time limit (engines check their budget every
few hundred states) before the deadline stops it anyway."""


@contextmanager
def deadline(seconds: float | None, grace: float = DEADLINE_GRACE):
    """Raise :class:`TimeLimitReached` in the block once ``seconds`` have passed while a
    user's frame is on the stack (the engine's own budget check cannot run while a user's
    predicate or hook loops forever), or ``seconds + grace`` have passed whatever runs; it
    is raised again every 50 ms until the block ends, and under the CLI
    (:func:`signal_handlers`) a user's code still swallowing it ``grace`` seconds later ends
    the process (exit 75, one line).  A SIGALRM interval timer (``setitimer``), so
    engine-agnostic; only in the main thread
    (elsewhere, and with ``seconds`` None, the block runs unbounded).  A timer and SIGALRM
    handler set before are restored afterwards."""
    if (
        seconds is None
        or threading.current_thread() is not threading.main_thread()
        or not hasattr(signal, "setitimer")
    ):
        yield
        return
    seconds = min(seconds, MAX_DEADLINE)
    start = time.monotonic()
    hard = start + seconds + grace
    first = []
    outer, f = set(), sys._getframe()
    while f is not None:
        outer.add(id(f))
        f = f.f_back

    def on_alarm(signum, frame):
        now = time.monotonic()
        where = _frame_where(frame, outer)
        if where is None and now < hard:
            return  # daxcheck's own code: its budget check will stop it
        if not first:
            first.append(now)
        elif _OWN_SIGNALS and now > first[0] + grace:  # the stop keeps being swallowed
            _exit_now(
                75,
                f"daxcheck: incomplete: {TimeLimitReached(seconds, where).reason()}"
                f" (the code does not stop when asked: exiting at once)",
            )
        raise TimeLimitReached(seconds, where)

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    old_timer = signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_timer[0] > 0:
            left = old_timer[0] - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), old_timer[1])


INTERNAL_PACKAGES = ("daxcheck", "daxcheck.spec", "daxcheck.checker", "daxcheck.properties")
"""daxcheck's own packages: code in their folders is never a user's."""


@functools.lru_cache(maxsize=1)
def _internal_roots() -> tuple[str, ...]:
    # The folders are found without importing the packages (this module is a foundation:
    # it imports nothing of daxcheck, so nothing of daxcheck imports back into a cycle).
    roots = set()
    for name in INTERNAL_PACKAGES:
        spec = importlib.util.find_spec(name)
        roots.update(str(Path(d).resolve()) for d in (spec.submodule_search_locations or ()))
    paths = sysconfig.get_paths()
    roots |= {
        str(Path(paths[k]).resolve())
        for k in ("stdlib", "platstdlib", "purelib", "platlib")
        if k in paths
    }
    return tuple(sorted(roots))


@functools.lru_cache(maxsize=4096)
def is_user_file(filename: str) -> bool:
    """Whether ``filename`` (a code object's ``co_filename``) is a user's file: neither
    daxcheck's own modules nor the standard library or installed packages."""
    if not filename or filename.startswith("<"):
        return False
    if not os.path.isabs(filename) and not os.path.exists(filename):
        return False  # a compiled extension's source path ("python/ray/_raylet.pyx")
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


def safe_str(exc: BaseException, conv=str) -> str:
    """``conv(exc)`` (``str`` or ``repr``), or a placeholder naming the exception type when
    that itself raises (a user's exception whose ``__str__`` raises must not turn the report
    of one error into another)."""
    try:
        text = conv(exc)
        return text if isinstance(text, str) else "?"
    except BaseException as e:  # noqa: BLE001 - whatever a user's __str__ raises
        if is_interrupt(e):
            raise
        return f"<{conv.__name__}() of the {type(exc).__name__} raised {type(e).__name__}>"


def _short(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit: sys.exit({safe_str(exc.code, repr)}) called"
    msg = " ".join(safe_str(exc).split())
    if len(msg) > 300:
        msg = msg[:297] + "..."
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def raised(
    exc: BaseException, what: str, default: tuple[str, int] | None = None, files=None
) -> UserCodeError:
    """The :class:`UserCodeError` for ``exc`` raised by user code ``what`` (e.g. "property
    p"): located at its deepest user frame (or ``default``)."""
    where = user_frame(exc, files) or default
    loc = f"{where[0]}:{where[1]}: " if where else ""
    err = UserCodeError(f"{loc}{_short(exc)} (in {what})")
    err.__cause__ = exc
    return err


def _is_taint(s) -> bool:
    # A taint state of the read-set analysis (checker/explicit/readset.py: TaintState, or
    # a list of Dep) marks itself with ``TAINT = True``; duck-typed so that this support
    # module knows no engine.
    return getattr(s, "TAINT", False) is True or (
        isinstance(s, list) and bool(s) and getattr(s[0], "TAINT", False) is True
    )


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
        except BaseException as e:  # sys.exit() or a raised KeyboardInterrupt: an error
            if _user_exit(e):
                raise raised(e, what, src) from e
            raise
        if type(s) is bytes and r is not True and r is not False:
            loc = f"{src[0]}:{src[1]}: " if src else ""
            raise UserCodeError(
                f"{loc}{what} returned {r!r} ({type(r).__name__}), not a bool: "
                f"compare fields explicitly (s[o] != 0) and combine with "
                f"And/Or/Not"
            )
        return r

    guarded.__wrapped_user__ = fn
    return guarded


def guard_domain(each, what: str):
    """A user's ``each=`` domain function wrapped: an exception (or ``sys.exit``) becomes a
    :class:`UserCodeError`, and a result that is not a finite collection of items (a list,
    tuple, range, set...; not a string or a number) is refused with one.  Returns a tuple."""
    src = _source(each)
    loc = f"{src[0]}:{src[1]}: " if src else ""

    @functools.wraps(each)
    def guarded(L):
        try:
            r = each(L)
        except Exception as e:
            raise raised(e, what, src) from e
        except BaseException as e:
            if _user_exit(e):
                raise raised(e, what, src) from e
            raise
        if isinstance(r, (str, bytes, dict)) or not hasattr(r, "__iter__"):
            raise UserCodeError(
                f"{loc}{what} returned {r!r:.60} ({type(r).__name__}), not a list of items"
            )
        try:
            return tuple(r)
        except Exception as e:
            raise raised(e, what, src) from e

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
            if isinstance(s, (list, tuple)):  # Z3 terms: the symbolic engine reports it
                raise
            raise raised(e, what, src) from e
        except BaseException as e:  # sys.exit() or a raised KeyboardInterrupt: an error
            if _user_exit(e):
                raise raised(e, what, src) from e
            raise

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
    user = {n: _guard_method(f, f"design hook {n}") for n, f in methods.items() if f is not None}
    if not user:
        return design
    guarded_cls = type(
        cls.__name__,
        (cls,),
        {**user, "__qualname__": cls.__qualname__, "__module__": cls.__module__},
    )
    g = copy.copy(design)
    object.__setattr__(g, "__class__", guarded_cls)
    return g

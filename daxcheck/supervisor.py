"""The ``daxcheck`` command runs its work in a supervised child process.

The console script (and ``python -m daxcheck``) is two processes.  The *parent* parses the
command line and checks every path it names (:func:`daxcheck.checker.cli.check_paths`),
then starts the *worker*: ``python -m daxcheck`` again, in its own process group, with the
write end of a pipe (``DAXCHECK_WORKER_FD``).  The worker runs the in-process command
(:func:`daxcheck.checker.cli.main`: user files loaded, searches, traces and result files
written, the verdict table printed to the inherited stdout/stderr), reports on the pipe
the phase it is in (``{"phase": ..., "limited": ...}`` lines: "loading user files",
"design D"...) and finally its exit code (``{"code": N}``), then ends at once with
``os._exit``, so neither ``atexit`` handlers nor stray non-daemon threads of a user's code
run after the result or keep the process alive.  The exit code of ``daxcheck`` is the one
the worker reported, never its process status (a user's ``os._exit(0)`` cannot turn an
error into a pass).

What the parent enforces, whatever the worker's code does (blocked signals, a disarmed
alarm, a loop in C):

* ``--time-limit S`` (check, simulate, gate, prove): a limited phase (loading user files,
  one design) that runs :data:`HARD_GRACE` seconds past ``S`` is stopped: SIGTERM to the
  worker's process group, SIGKILL :data:`KILL_GRACE` seconds later; one line naming the
  phase and, when the worker's watchdog dump shows one, the user's ``file:line``; exit 75.
* ``--memory-limit MB``: ``RLIMIT_AS`` of the worker (an allocation beyond it fails:
  ``MemoryError`` is reported as incomplete, exit 75).
* A worker that dies of a signal (SIGSEGV) or exits without a result (``os._exit`` in a
  user's code): one line naming what happened and the phase; exit 3 when user files were
  given (their code is the likely cause), else 1.
* Ctrl-C / SIGTERM to the parent are passed on to the worker (which stops as the in-process
  command does: one line, 130 / 143); a worker that does not stop within
  :data:`STOP_GRACE` seconds, or a second signal, is killed.  The worker dies with the
  parent (``PR_SET_PDEATHSIG``), so a SIGKILL of ``daxcheck`` leaves no orphan behind.

Not contained: the worker writes the result files and counterexamples itself (atomically),
so output already written when a worker is killed stays; ``daxcheck oracle`` runs in one
process (it mounts file systems and must unmount them on a signal).  The in-process path,
:func:`daxcheck.checker.cli.main`, the pytest plugin and the library API, is uncontained:
user code there runs in the caller's process (``DAXCHECK_NO_SUPERVISOR=1`` selects it for
the command line too).
"""
from __future__ import annotations

import ctypes
import faulthandler
import json
import os
import re
import resource
import select
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time

WORKER_FD = "DAXCHECK_WORKER_FD"
"""Environment variable naming the worker's result pipe (set by the parent only)."""
WORKER_LIMIT = "DAXCHECK_WORKER_LIMIT"
WORKER_MEMORY = "DAXCHECK_WORKER_MEMORY"
WORKER_DUMP = "DAXCHECK_WORKER_DUMP"
WORKER_PARENT = "DAXCHECK_WORKER_PARENT"
NO_SUPERVISOR = "DAXCHECK_NO_SUPERVISOR"

SUPERVISED = ("check", "simulate", "gate", "prove", "replay", "view", "graph", "list", "query")
"""Commands run in a worker (``oracle`` runs in one process)."""
TIME_LIMITED = ("check", "simulate", "gate", "prove")
"""Commands whose ``--time-limit`` the parent enforces per phase."""

HARD_GRACE = 5.0
"""Seconds a limited phase may run past ``--time-limit`` before the parent stops it (the
worker's own deadline stops well-behaved code at the limit, and ends the process 4 s later
when the stop is swallowed)."""
KILL_GRACE = 2.0
"""Seconds between the SIGTERM and the SIGKILL of a worker being stopped."""
STOP_GRACE = 10.0
"""Seconds a worker has to stop after a Ctrl-C or SIGTERM passed on to it."""

_EXIT_INCOMPLETE, _EXIT_BAD_INPUT, _EXIT_UNEXPECTED, _EXIT_USER_CODE = 75, 2, 1, 3


# ---------------------------------------------------------------------------- worker side
_PIPE = {"fd": None, "limit": None, "dump": None}


def worker_setup() -> bool:
    """In a worker (``DAXCHECK_WORKER_FD`` set): take the pipe, die with the parent, apply
    the memory limit; the variables are removed so that processes the run starts are not
    workers.  Returns whether this process is a worker."""
    fd = os.environ.pop(WORKER_FD, None)
    limit = os.environ.pop(WORKER_LIMIT, None)
    memory = os.environ.pop(WORKER_MEMORY, None)
    dump = os.environ.pop(WORKER_DUMP, None)
    if fd is None:
        return False
    _PIPE["fd"] = int(fd)
    _PIPE["limit"] = float(limit) if limit else None
    if dump:
        _PIPE["dump"] = open(dump, "w")   # noqa: SIM115 - kept open for faulthandler
    _die_with_parent()
    if os.environ.pop(WORKER_PARENT, None) != str(os.getppid()):
        os._exit(_EXIT_UNEXPECTED)   # the parent died before the line above: no orphan
    if memory:
        soft = int(float(memory) * 2**20)
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (soft if hard == resource.RLIM_INFINITY
                                                else min(soft, hard), hard))
    _send({"phase": "started", "limited": False})
    return True


def _die_with_parent() -> None:
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (Linux; elsewhere nothing)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError, ctypes.ArgumentError):
        pass


def _send(msg: dict) -> None:
    fd = _PIPE["fd"]
    if fd is None:
        return
    try:
        os.write(fd, (json.dumps(msg) + "\n").encode())
    except OSError:
        _PIPE["fd"] = None


def phase(name: str, limited: bool = False) -> None:
    """Tell the parent (when this process is a worker; otherwise nothing) that the run
    enters phase ``name`` (e.g. "design cow-srcmap"); ``limited``: the parent's
    ``--time-limit`` applies to it.  A limited phase also arms a watchdog that dumps every
    thread's stack to the parent's file just before the parent would stop the worker (it
    runs in its own C thread: blocked signals do not stop it)."""
    if _PIPE["fd"] is None:
        return
    _send({"phase": name, "limited": bool(limited)})
    dump, limit = _PIPE["dump"], _PIPE["limit"]
    if dump is not None and limit is not None:
        faulthandler.cancel_dump_traceback_later()
        if limited:
            faulthandler.dump_traceback_later(limit + HARD_GRACE - 0.5, file=dump)


def stopped_by_supervisor() -> bool:
    """Whether the parent is stopping this worker for its time limit (it says so before
    the SIGTERM: the worker then prints nothing, the parent prints the one line)."""
    dump = _PIPE["dump"]
    return dump is not None and os.path.exists(dump.name + ".stop")


def worker_exit(code) -> None:
    """Report ``code`` to the parent and end the worker at once (no atexit handler, no
    thread join).  Never returns."""
    try:
        sys.stdout.flush()
    except Exception:     # noqa: BLE001 - a stream a user's code closed
        pass
    try:
        sys.stderr.flush()
    except Exception:     # noqa: BLE001
        pass
    _send({"code": code if isinstance(code, int) else _EXIT_UNEXPECTED})
    os._exit(code if isinstance(code, int) and 0 <= code < 256 else _EXIT_UNEXPECTED)


# ---------------------------------------------------------------------------- parent side
def should_supervise(argv) -> bool:
    """Whether the command line ``argv`` runs in a worker (see :data:`SUPERVISED`)."""
    if os.environ.get(NO_SUPERVISOR) == "1" or not hasattr(os, "killpg"):
        return False
    return next((a for a in argv if not a.startswith("-")), None) in SUPERVISED


class _Stop:
    """Signals received by the parent while it waits (the handlers only record them)."""

    def __init__(self):
        self.signals = []

    def __call__(self, signum, frame):
        self.signals.append(signum)


def supervise(argv, args) -> int:
    """Run the command ``argv`` (already parsed as ``args`` and its paths checked) in a
    worker and return the exit code (see the module docstring).  Writes at most one line
    of its own to stderr."""
    limit = getattr(args, "time_limit", None) if args.cmd in TIME_LIMITED else None
    memory = getattr(args, "memory_limit", None)
    user_files = any(getattr(args, k, None) for k in ("designs", "properties"))
    r, w = os.pipe()
    env = dict(os.environ)
    env[WORKER_FD] = str(w)
    env[WORKER_PARENT] = str(os.getpid())
    dump_path = None
    if limit is not None:
        fd, dump_path = tempfile.mkstemp(prefix="daxcheck-worker-", suffix=".stacks")
        os.close(fd)
        env[WORKER_LIMIT] = repr(float(limit))
        env[WORKER_DUMP] = dump_path
    if memory is not None:
        env[WORKER_MEMORY] = repr(float(memory))
    stop = _Stop()
    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            child = subprocess.Popen([sys.executable, "-m", "daxcheck", *argv], env=env,
                                     pass_fds=(w,), process_group=0)
        except OSError as e:
            sys.stderr.write(f"daxcheck: error: cannot start the worker process: "
                             f"{e.strerror or e}\n")
            return _EXIT_UNEXPECTED
        finally:
            os.close(w)
        return _wait(child, r, limit, stop, user_files, dump_path)
    finally:
        os.close(r)
        for s, h in old.items():
            signal.signal(s, h)
        for f in (dump_path, dump_path and dump_path + ".stop"):
            if f:
                try:
                    os.unlink(f)
                except OSError:
                    pass


def _kill(child, sig) -> None:
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            child.send_signal(sig)
        except ProcessLookupError:
            pass


def _stop_child(child) -> None:
    """SIGTERM to the worker's process group, SIGKILL :data:`KILL_GRACE` s later."""
    _kill(child, signal.SIGTERM)
    try:
        child.wait(KILL_GRACE)
    except subprocess.TimeoutExpired:
        pass
    _kill(child, signal.SIGKILL)
    child.wait()


def _wait(child, r, limit, stop, user_files, dump_path) -> int:
    buf = b""
    cur = {"phase": "starting", "limited": False}
    since = time.monotonic()
    code = None
    ready = False
    seen = 0              # signals handled so far
    stop_deadline = None
    eof = False
    while not eof:
        now = time.monotonic()
        if len(stop.signals) > seen:
            sig = stop.signals[seen]
            seen = len(stop.signals)
            word = "interrupted" if sig == signal.SIGINT else "terminated"
            rc = 130 if sig == signal.SIGINT else 143
            if not ready or seen > 1:
                _kill(child, signal.SIGKILL)
                child.wait()
                again = " (again: the worker was killed)" if seen > 1 else ""
                sys.stderr.write(f"daxcheck: {word}{again}\n")
                return rc
            try:
                child.send_signal(sig)
            except ProcessLookupError:
                pass
            stop_deadline = now + STOP_GRACE
            stop_rc, stop_word = rc, word
        if stop_deadline is not None and now >= stop_deadline:
            _stop_child(child)
            sys.stderr.write(f"daxcheck: {stop_word} (the worker did not stop within "
                             f"{STOP_GRACE:g}s: killed)\n")
            return stop_rc
        if limit is not None and cur["limited"] and now - since >= limit + HARD_GRACE:
            try:
                open(dump_path + ".stop", "w").close()    # noqa: SIM115
            except OSError:
                pass
            _stop_child(child)
            at = _user_location(dump_path)
            sys.stderr.write(f"daxcheck: incomplete: time limit {limit:g}s reached in "
                             f"{cur['phase']}{' at ' + at if at else ''}, and the run did not "
                             f"stop (a user's code that blocks signals, disarms the alarm or "
                             f"never returns): stopped by the supervisor\n")
            return _EXIT_INCOMPLETE
        wait = 0.25
        if limit is not None and cur["limited"]:
            wait = max(0.0, min(wait, since + limit + HARD_GRACE - now))
        try:
            readable, _, _ = select.select([r], [], [], wait)
        except InterruptedError:
            continue
        if not readable:
            continue
        data = os.read(r, 65536)
        if not data:
            eof = True
            break
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            if "code" in msg and isinstance(msg["code"], int):
                code = msg["code"]
            elif isinstance(msg.get("phase"), str):
                cur = {"phase": msg["phase"][:200], "limited": bool(msg.get("limited"))}
                since = time.monotonic()
                ready = True
    try:
        status = child.wait(KILL_GRACE + 3)
    except subprocess.TimeoutExpired:     # closed its pipe but goes on: not ours to wait for
        _stop_child(child)
        status = child.returncode
    if code is not None:
        return code
    if stop_deadline is not None:        # stopped by a signal before it could report
        return stop_rc
    where = f" while {cur['phase']}" if cur["phase"] != "starting" else " while starting"
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        what = f"the worker process died of {name}{where}"
    else:
        what = (f"the worker process exited (status {status}){where} without reporting a "
                f"result (a user's code called os._exit() or closed its result pipe)")
    sys.stderr.write(f"daxcheck: error: {what}\n")
    return _EXIT_USER_CODE if user_files else _EXIT_UNEXPECTED


def _user_location(dump_path) -> str | None:
    """``file:line`` of the innermost frame outside daxcheck and the Python installation in
    the worker's watchdog dump (faulthandler's format, most recent call first), or None."""
    if not dump_path:
        return None
    try:
        with open(dump_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    pkg = os.path.dirname(os.path.abspath(__file__))
    roots = [os.path.dirname(pkg), sys.prefix, sys.base_prefix]
    roots += [sysconfig.get_paths().get(k, "") for k in ("stdlib", "purelib", "platlib")]
    roots = [os.path.realpath(x) for x in roots if x]
    for m in re.finditer(r'File "([^"]+)", line (\d+)', text):
        path = os.path.realpath(m.group(1))
        if m.group(1).startswith("<") or any(path.startswith(x + os.sep) for x in roots):
            continue
        return f"{m.group(1)}:{m.group(2)}"
    return None

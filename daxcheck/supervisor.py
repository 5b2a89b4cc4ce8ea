"""The ``daxcheck`` command runs its work in a supervised child process.

The console script (and ``python -m daxcheck``) is two processes.  The *parent* parses the
command line and checks every path it names (:func:`daxcheck.checker.cli.check_paths`),
then starts the *worker*: ``python -m daxcheck`` again, in its own process group, with the
write end of a pipe (``DAXCHECK_WORKER_FD``).  The worker runs the in-process command
(:func:`daxcheck.checker.cli.main`: user files loaded, searches and replays, the verdict
table printed to the inherited stdout/stderr) and reports on the pipe, one JSON object a
line: the phase it is in (``{"phase": ..., "limited": ...}``: "loading user files",
"design D", "oracle --target loop-xfs"...), every result file it would write
(``{"file": path, "data": base64}``: ``--json``, ``--junit``, ``--summary``, ``--out``
traces, ``view --html``, ``graph --out``, ``prove --summary``; see
:func:`daxcheck.fileio.redirected_writes`) and finally its exit code (``{"code": N}``),
then ends at once with ``os._exit``, so neither ``atexit`` handlers nor stray non-daemon
threads of a user's code run after the result or keep the process alive.  The parent
alone writes the result files (atomically, once the worker has ended, so whatever a
user's code did to them meanwhile is overwritten; a file it cannot write is one line,
exit 2) and picks the exit code: the one the worker reported, never its process status
(a user's ``os._exit(0)`` cannot turn an error into a pass).  Checkpoints are written by
the search itself, in the worker; so are ``gate --update``'s manifest and traces.

What the parent enforces, whatever the worker's code does (blocked signals, a disarmed
alarm, a loop in C):

* ``--time-limit S`` (check, simulate, gate, prove, replay): a limited phase (loading user
  files, one design) that runs :data:`HARD_GRACE` seconds past ``S`` is stopped: SIGTERM
  to the worker's process group, SIGKILL :data:`KILL_GRACE` seconds later; one line
  naming the phase and, when the worker's watchdog dump shows one, the user's
  ``file:line``; exit 75.  The kernel commands (``oracle``, ``kernel setup``, ``replay
  --on qemu-dax``; :data:`KERNEL_COMMANDS`) are stopped at ``S`` itself and get
  :data:`CLEANUP_GRACE` seconds to unmount the loop device and shut the QEMU guest down
  (their ``finally`` blocks run on SIGTERM as on Ctrl-C) before the SIGKILL.
* ``--memory-limit MB``: ``RLIMIT_AS`` of the worker (an allocation beyond it fails:
  ``MemoryError`` is reported as incomplete, exit 75).
* A worker that dies of a signal (SIGSEGV) or exits without a result (``os._exit`` in a
  user's code): one line naming what happened and the phase; exit 3 when user files were
  given (their code is the likely cause), else 1.
* Ctrl-C / SIGTERM to the parent are passed on to the worker (which stops as the in-process
  command does: one line, 130 / 143); a worker that does not stop within
  :data:`STOP_GRACE` seconds (:data:`CLEANUP_GRACE` for a kernel command), or a second
  signal, is killed.  The worker dies with the parent (``PR_SET_PDEATHSIG``), so a SIGKILL
  of ``daxcheck`` leaves no orphan behind (a loop mount it leaves is removed by the next
  oracle run).

Not contained: the in-process path, :func:`daxcheck.checker.cli.main`, the pytest plugin
and the library API: user code there runs in the caller's process and result files are
written by it (``DAXCHECK_NO_SUPERVISOR=1`` selects it for the command line too).
"""

from __future__ import annotations

import base64
import ctypes
import errno
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

from daxcheck.fileio import atomic_write

WORKER_FD = "DAXCHECK_WORKER_FD"
"""Environment variable naming the worker's result pipe (set by the parent only)."""
WORKER_LIMIT = "DAXCHECK_WORKER_LIMIT"
WORKER_MEMORY = "DAXCHECK_WORKER_MEMORY"
WORKER_DUMP = "DAXCHECK_WORKER_DUMP"
WORKER_PARENT = "DAXCHECK_WORKER_PARENT"
NO_SUPERVISOR = "DAXCHECK_NO_SUPERVISOR"

SUPERVISED = (
    "check",
    "simulate",
    "gate",
    "prove",
    "replay",
    "view",
    "graph",
    "list",
    "query",
    "oracle",
    "kernel",
)
"""Commands run in a worker (all of them)."""
TIME_LIMITED = ("check", "simulate", "gate", "prove", "replay", "oracle", "kernel")
"""Commands whose ``--time-limit`` the parent enforces per phase."""
KERNEL_COMMANDS = ("oracle", "kernel")
"""Commands that mount file systems or boot QEMU guests (``replay --on qemu-dax`` too):
when stopped they get :data:`CLEANUP_GRACE` to unmount and shut down."""

HARD_GRACE = 5.0
"""Seconds a limited phase may run past ``--time-limit`` before the parent stops it (the
worker's own deadline stops well-behaved code at the limit, and ends the process 4 s later
when the stop is swallowed)."""
KILL_GRACE = 2.0
"""Seconds between the SIGTERM and the SIGKILL of a worker being stopped."""
STOP_GRACE = 10.0
"""Seconds a worker has to stop after a Ctrl-C or SIGTERM passed on to it."""
CLEANUP_GRACE = 30.0
"""Seconds a kernel command's worker has, after a SIGTERM, to unmount its loop device and
shut its QEMU guest down before the SIGKILL (and after a passed-on Ctrl-C or SIGTERM)."""

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
        _PIPE["dump"] = open(dump, "w")  # noqa: SIM115 - kept open for faulthandler
    _die_with_parent()
    if os.environ.pop(WORKER_PARENT, None) != str(os.getppid()):
        os._exit(_EXIT_UNEXPECTED)  # the parent died before the line above: no orphan
    if memory:
        soft = int(float(memory) * 2**20)
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(
            resource.RLIMIT_AS, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
        )
    return True


def _die_with_parent() -> None:
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (Linux; elsewhere nothing)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError, ctypes.ArgumentError):
        pass


def _send(msg: dict) -> None:
    """One message to the parent: a JSON object on its own line (a leading newline too, so
    that a message cut short by a signal cannot swallow the next one), written whole with
    SIGINT/SIGTERM held back meanwhile (delivered right after)."""
    fd = _PIPE["fd"]
    if fd is None:
        return
    data = memoryview(("\n" + json.dumps(msg) + "\n").encode())
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        _PIPE["fd"] = None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def is_worker() -> bool:
    """Whether this process is a supervised worker (:func:`worker_setup` took the pipe)."""
    return _PIPE["fd"] is not None


def send_file(path: str, data: bytes) -> None:
    """In a worker: hand the result file ``path`` (as the command line gave it, relative
    to the parent's folder) with its whole content to the parent, which writes it
    (atomically) once the worker has ended (the sink of
    :func:`daxcheck.fileio.redirected_writes`).  Raises OSError when the pipe is gone."""
    if _PIPE["fd"] is None:
        raise OSError(errno.EPIPE, "the supervisor's pipe is closed", path)
    _send({"file": path, "data": base64.b64encode(data).decode("ascii")})


def phase(name: str, *, limited: bool = False) -> None:
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
    except Exception:  # noqa: BLE001 - a stream a user's code closed
        pass
    try:
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
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
    worker and return the exit code (see the module docstring); then write the result
    files the worker sent (:func:`send_file`), in the order sent.  Writes at most one line
    of its own to stderr."""
    limit = getattr(args, "time_limit", None) if args.cmd in TIME_LIMITED else None
    memory = getattr(args, "memory_limit", None)
    user_files = any(getattr(args, k, None) for k in ("designs", "properties"))
    cleanup = args.cmd in KERNEL_COMMANDS or getattr(args, "on", None) == "qemu-dax"
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
            child = subprocess.Popen(
                [sys.executable, "-m", "daxcheck", *argv], env=env, pass_fds=(w,), process_group=0
            )
        except OSError as e:
            sys.stderr.write(
                f"daxcheck: error: cannot start the worker process: {e.strerror or e}\n"
            )
            return _EXIT_UNEXPECTED
        finally:
            os.close(w)
        watch = _Watch(child, r, limit, stop, dump_path, cleanup=cleanup)
        code = watch.run(user_files=user_files)
        return _write_files(watch.files, code)
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


def _write_files(files, code: int) -> int:
    """Write the worker's result files (atomically, relative paths from this process's
    folder); returns ``code``, or 2 after one line naming a file that cannot be written."""
    for path, data in files:
        try:
            atomic_write(path, data)
        except OSError as e:
            sys.stderr.write(f"daxcheck: error: {path}: cannot write: {e.strerror or e}\n")
            return _EXIT_BAD_INPUT
        except ValueError as e:  # fileio.InputFileError: a folder or FIFO there now
            sys.stderr.write(f"daxcheck: error: {' '.join(str(e).split())}\n")
            return _EXIT_BAD_INPUT
    return code


def _kill(child, sig) -> None:
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            child.send_signal(sig)
        except ProcessLookupError:
            pass


def _stop_child(child, grace: float = KILL_GRACE) -> bool:
    """SIGTERM to the worker's process group, SIGKILL ``grace`` seconds later; returns
    whether the worker ended within the grace period (its cleanup ran)."""
    _kill(child, signal.SIGTERM)
    try:
        child.wait(grace)
        ended = True
    except subprocess.TimeoutExpired:
        ended = False
    _kill(child, signal.SIGKILL)
    child.wait()
    return ended


class _Watch:
    """The parent's side of one worker: reads its messages (phases, result files, the
    exit code) and enforces the time limit and the signals received meanwhile.
    ``cleanup``: a kernel command (oracle, kernel setup, replay --on qemu-dax), given
    :data:`CLEANUP_GRACE` to unmount and shut its guest down when stopped."""

    def __init__(self, child, r, limit, stop, dump_path, *, cleanup=False):
        self.child, self.r, self.limit, self.stop = child, r, limit, stop
        self.dump_path, self.cleanup = dump_path, cleanup
        self.grace = CLEANUP_GRACE if cleanup else KILL_GRACE
        self.stop_window = CLEANUP_GRACE if cleanup else STOP_GRACE
        self.hard = 0.0 if cleanup else HARD_GRACE  # no in-process deadline to wait for
        self.files: list[tuple[str, bytes]] = []
        self.parts: list[bytes] = []
        self.cur = {"phase": "starting", "limited": False}
        self.since = time.monotonic()
        self.code = None
        self.ready = False
        self.seen = 0  # signals handled so far
        self.stop_deadline = None
        self.stop_rc, self.stop_word = None, None

    def run(self, *, user_files: bool) -> int:
        """Wait for the worker's end; returns the exit code."""
        while True:
            now = time.monotonic()
            code = self._on_signal(now)
            if code is None:
                code = self._on_deadline(now)
            if code is not None:
                return code
            if not self._read(now):
                break
        return self._finish(user_files=user_files)

    def _on_signal(self, now):
        if len(self.stop.signals) <= self.seen:
            return None
        sig = self.stop.signals[self.seen]
        self.seen = len(self.stop.signals)
        word = "interrupted" if sig == signal.SIGINT else "terminated"
        rc = 130 if sig == signal.SIGINT else 143
        if not self.ready or self.seen > 1:
            _kill(self.child, signal.SIGKILL)
            self.child.wait()
            again = " (again: the worker was killed)" if self.seen > 1 else ""
            sys.stderr.write(f"daxcheck: {word}{again}\n")
            return rc
        try:
            self.child.send_signal(sig)
        except ProcessLookupError:
            pass
        self.stop_deadline = now + self.stop_window
        self.stop_rc, self.stop_word = rc, word
        return None

    def _on_deadline(self, now):
        if self.stop_deadline is not None and now >= self.stop_deadline:
            _stop_child(self.child, self.grace)
            sys.stderr.write(
                f"daxcheck: {self.stop_word} (the worker did not stop within "
                f"{self.stop_window:g}s: killed)\n"
            )
            return self.stop_rc
        if (
            self.limit is None
            or not self.cur["limited"]
            or now - self.since < self.limit + self.hard
        ):
            return None
        try:
            open(self.dump_path + ".stop", "w").close()  # noqa: SIM115
        except OSError:
            pass
        ended = _stop_child(self.child, self.grace)
        if self.cleanup:
            how = (
                "it cleaned up"
                if ended
                else f"killed after {self.grace:g}s of cleanup; the next run removes leftovers"
            )
            sys.stderr.write(
                f"daxcheck: incomplete: time limit {self.limit:g}s reached in "
                f"{self.cur['phase']}: stopped by the supervisor ({how})\n"
            )
            return _EXIT_INCOMPLETE
        at = _user_location(self.dump_path)
        sys.stderr.write(
            f"daxcheck: incomplete: time limit {self.limit:g}s reached in "
            f"{self.cur['phase']}{' at ' + at if at else ''}, and the run did not "
            f"stop (a user's code that blocks signals, disarms the alarm or "
            f"never returns): stopped by the supervisor\n"
        )
        return _EXIT_INCOMPLETE

    def _read(self, now) -> bool:
        """Read what the worker sent within a short wait; False at the end of the pipe."""
        wait = 0.25
        if self.limit is not None and self.cur["limited"]:
            wait = max(0.0, min(wait, self.since + self.limit + self.hard - now))
        try:
            readable, _, _ = select.select([self.r], [], [], wait)
        except InterruptedError:
            return True
        if not readable:
            return True
        data = os.read(self.r, 1 << 20)
        if not data:
            return False
        while b"\n" in data:
            head, data = data.split(b"\n", 1)
            self.parts.append(head)
            self._message(b"".join(self.parts))
            self.parts = []
        if data:
            self.parts.append(data)
        return True

    def _message(self, line: bytes) -> None:
        try:
            msg = json.loads(line) if line.strip() else None
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        if "code" in msg and isinstance(msg["code"], int):
            self.code = msg["code"]
        elif isinstance(msg.get("file"), str) and isinstance(msg.get("data"), str):
            try:
                self.files.append((msg["file"], base64.b64decode(msg["data"], validate=True)))
            except ValueError:
                pass
        elif isinstance(msg.get("phase"), str):
            self.cur = {"phase": msg["phase"][:200], "limited": bool(msg.get("limited"))}
            self.since = time.monotonic()
            self.ready = True

    def _finish(self, *, user_files: bool) -> int:
        """The exit code once the worker closed its pipe: the one it reported, else one
        line on how it ended."""
        try:
            status = self.child.wait(self.grace + 3)
        except subprocess.TimeoutExpired:  # closed its pipe but goes on: not ours to wait for
            _stop_child(self.child, self.grace)
            status = self.child.returncode
        if self.code is not None:
            return self.code
        if self.stop_deadline is not None:  # stopped by a signal before it could report
            return self.stop_rc
        cur = self.cur["phase"]
        where = f" while {cur}" if cur != "starting" else " while starting"
        if status < 0:
            try:
                name = signal.Signals(-status).name
            except ValueError:
                name = f"signal {-status}"
            what = f"the worker process died of {name}{where}"
        else:
            what = (
                f"the worker process exited (status {status}){where} without reporting a "
                f"result (a user's code called os._exit() or closed its result pipe)"
            )
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

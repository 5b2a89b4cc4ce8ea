"""``python -m daxcheck`` and the ``daxcheck`` console script: the command line.

Ctrl-C and SIGTERM are handled from the first line on, so an interrupt while daxcheck's
modules are still being imported ends with one line and exit 130 (143), not a traceback
(:func:`daxcheck.checker.cli.main` installs its own handlers for the run itself).  The
imports come after the handlers on purpose (the only imports inside functions here), and
run with the two signals held back: a library whose import catches the exception a handler
raises (numpy turns it into an ImportError) would otherwise print a traceback; a signal
that arrived meanwhile is delivered right after the import.
"""

import contextlib
import signal
import sys


def _stop(signum, frame):
    sys.stderr.write(
        "daxcheck: interrupted\n" if signum == signal.SIGINT else "daxcheck: terminated\n"
    )
    _decided()
    raise SystemExit(130 if signum == signal.SIGINT else 143)


def _decided() -> None:
    """The exit code is decided: a later SIGINT/SIGTERM is ignored (Python resets its own
    handlers to the default while it shuts down, where a signal would kill the process
    with another status; an ignored signal stays ignored)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


_stop.daxcheck_early = True  # daxcheck.usercode.signal_handlers replaces it during a run


@contextlib.contextmanager
def _held():
    """SIGINT and SIGTERM held back (blocked) within the block, delivered after it."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def run() -> int:
    """Entry point: the early handlers (kept until ``main`` installs its own, which it
    restores to these when it returns), then either the supervisor
    (:mod:`daxcheck.supervisor`: parse, check the paths, run the command in a worker
    process, write its result files), or, in that worker (or with
    ``DAXCHECK_NO_SUPERVISOR=1``), :func:`daxcheck.checker.cli.main` in this process."""
    signal.signal(signal.SIGINT, _stop)
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _stop)
    with _held():
        from daxcheck import supervisor
    if supervisor.worker_setup():
        try:
            with _held():
                from daxcheck.checker.cli import main
            supervisor.phase("started")  # the parent passes signals on from now
            code = main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        supervisor.worker_exit(code)
    argv = sys.argv[1:]
    if supervisor.should_supervise(argv):
        with _held():
            from daxcheck.checker.cli import preflight_argv
        args, code = preflight_argv(argv)
        if args is None:
            return code
        code = supervisor.supervise(argv, args)
        _decided()
        return code
    with _held():
        from daxcheck.checker.cli import main
    code = main()
    _decided()
    return code


if __name__ == "__main__":
    raise SystemExit(run())

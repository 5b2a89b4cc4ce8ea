"""``python -m daxcheck`` and the ``daxcheck`` console script: the command line.

Ctrl-C and SIGTERM are handled from the first line on, so an interrupt while daxcheck's
modules are still being imported ends with one line and exit 130 (143), not a traceback
(:func:`daxcheck.checker.cli.main` installs its own handlers for the run itself).
"""
import signal
import sys


def _stop(signum, frame):
    sys.stderr.write("daxcheck: interrupted\n" if signum == signal.SIGINT
                     else "daxcheck: terminated\n")
    raise SystemExit(130 if signum == signal.SIGINT else 143)


_stop.daxcheck_early = True     # daxcheck.usercode.signal_handlers replaces it during a run


def run() -> int:
    """Entry point: the early handlers (kept until ``main`` installs its own, which it
    restores to these when it returns), then :func:`daxcheck.checker.cli.main`."""
    signal.signal(signal.SIGINT, _stop)
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _stop)
    from daxcheck.checker.cli import main
    return main()


if __name__ == "__main__":
    raise SystemExit(run())

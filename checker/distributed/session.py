"""The Ray session of a distributed run: availability, start (local or joining a cluster),
clean shutdown.

Ray is an optional dependency (``pip install 'daxcheck[distributed]'``); this module
imports it lazily so that the rest of daxcheck (and ``--workers 1``) never needs it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading

from daxcheck.usercode import Interrupted, Terminated

from ..results import InputError

INSTALL_HINT = "--workers N>=2 needs Ray: pip install 'daxcheck[distributed]'"


class DistributedError(InputError):
    """The distributed run cannot start (Ray missing, a cluster address that does not
    answer, fewer CPUs than workers...): a one-line message; the CLI exits 2."""


def ray_module():
    """The imported ``ray`` module; DistributedError with :data:`INSTALL_HINT` if Ray is
    not installed."""
    try:
        import ray
    except ImportError:
        raise DistributedError(INSTALL_HINT) from None
    return ray


@contextlib.contextmanager
def ray_session(workers: int, address: str | None = None):
    """Ray initialised for ``workers`` partition workers for the duration of the block,
    yielding the ``ray`` module.

    ``address`` None: a local Ray instance with ``workers`` CPUs (no dashboard, worker
    logs not forwarded to this terminal, Ray's own logging at ERROR); otherwise the
    cluster at ``address`` ("auto", "ray://host:10001", "host:6379") is joined.  A session
    already initialised in this process (a test fixture, a user's notebook) is reused and
    left running; one started here is shut down on every exit path (Ctrl-C and SIGTERM
    included: the CLI turns both into exceptions).  Raises DistributedError when Ray is
    missing or cannot start/connect."""
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address is not None:
        _token_settings()  # before Ray is imported: it reads RAY_AUTH_MODE when it loads
    ray = ray_module()
    if ray.is_initialized():
        yield ray
        return
    if address is not None:
        _reachable(address)
    kw = dict(
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        configure_logging=True,
    )
    before = {}
    if threading.current_thread() is threading.main_thread():
        before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        before = {k: (signal.SIG_DFL if v is None else v) for k, v in before.items()}
    try:
        if address is None:
            ray.init(address="local", num_cpus=workers, **kw)  # never a running cluster
        else:
            ray.init(address=address, **kw)
    except SystemExit:  # ray.init's own SIGTERM handler, before ours is back
        _restore(before)
        ray.shutdown()
        raise Terminated() from None
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError...
        _restore(before)
        ray.shutdown()
        msg = " ".join(str(e).split())[:200]
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise DistributedError(
            f"cannot start {where}: {msg}{TOKEN_HINT if address else ''}"
        ) from None
    got, restore = _keep_signal_handlers(before)
    try:
        yield ray
    except BaseException as e:
        if got and not isinstance(e, (Interrupted, Terminated)):
            # Ray turns a signal that arrived inside ray.get into its own KeyboardInterrupt
            # or SystemExit: give daxcheck's exception back (exit 130/143, one line).
            raise (Terminated if got[-1] == signal.SIGTERM else Interrupted)() from None
        raise
    finally:
        restore()
        ray.shutdown()


def _reachable(address: str, timeout: float = 5.0) -> None:
    """DistributedError unless ``address`` ("auto", "HOST:PORT", "ray://HOST:PORT")
    accepts a TCP connection within ``timeout`` seconds ("auto" is left to Ray): Ray
    itself retries an unreachable cluster for minutes."""
    import socket

    if address == "auto":
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DistributedError(
            f"--ray-address {address}: expected auto, HOST:PORT or ray://HOST:PORT"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise DistributedError(
            f"--ray-address {address}: cannot connect ({e.strerror or e})"
        ) from None


TOKEN_HINT = (
    " (a cluster with token authentication needs its token here: RAY_AUTH_TOKEN or"
    " RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token; `ray get-auth-token` on the head node prints it)"
)
AUTH_MODES = ("disabled", "token", "k8s")


def _token_settings() -> None:
    """Ray's token authentication (Ray >= 2.52: ``RAY_AUTH_MODE``, the token from
    ``RAY_AUTH_TOKEN``, else the file ``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``)
    for joining a cluster: DistributedError for a setting Ray would abort on (an unknown
    mode, a token file that is missing or empty); a token given by ``RAY_AUTH_TOKEN`` or
    ``RAY_AUTH_TOKEN_PATH`` with the mode unset turns token mode on in this process (the
    cluster was started with that token), as ``ray start`` does when it finds one."""
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode is not None and mode.lower() not in AUTH_MODES:
        raise DistributedError(f"RAY_AUTH_MODE={mode}: expected one of {', '.join(AUTH_MODES)}")
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path and not os.environ.get("RAY_AUTH_TOKEN"):
        try:
            with open(path) as f:
                ok = bool(f.read().strip())
        except OSError as e:
            raise DistributedError(
                f"RAY_AUTH_TOKEN_PATH={path}: cannot read the Ray token ({e.strerror or e})"
            ) from None
        if not ok:
            raise DistributedError(f"RAY_AUTH_TOKEN_PATH={path}: the Ray token file is empty")
    if mode is None and (os.environ.get("RAY_AUTH_TOKEN") or path):
        os.environ["RAY_AUTH_MODE"] = "token"


def _keep_signal_handlers(before):
    """Put back the SIGINT/SIGTERM handlers ``ray.init`` replaced (``before``: signal ->
    handler), each Python one wrapped to note the signal in the returned list.  Returns
    ``(list, restore)``."""
    got = []
    if threading.current_thread() is not threading.main_thread():
        return got, lambda: None

    def wrap(prev):
        def handler(signum, frame):
            got.append(signum)
            return prev(signum, frame)

        return handler

    for sig, prev in before.items():
        signal.signal(sig, wrap(prev) if callable(prev) else prev)

    return got, lambda: _restore(before)


def _restore(before):
    for sig, prev in before.items():
        signal.signal(sig, prev)

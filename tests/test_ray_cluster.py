"""``--ray-address`` against a real two-node Ray cluster started on this machine.

The fixture starts a head node (``ray start --head --num-cpus 1 --block``) and a second node
joining it (``ray start --address HEAD --num-cpus 1 --block``), each in its own session and
process group, on ports the OS hands out and a fresh temporary directory, with token
authentication on (``RAY_AUTH_MODE=token``, the token in a file named by
``RAY_AUTH_TOKEN_PATH``: the way Ray 2.52+ documents for clusters started with ``ray
start``).  Its finalizer always stops both nodes: SIGTERM to each ``ray start --block``
(which stops the node's processes), then SIGKILL to whatever is left in the two process
groups it created.  ``daxcheck check/simulate --workers 2 --ray-address ...`` then run in a
subprocess with the same token and must give the local engine's counts and verdicts."""

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

DESIGNS = ("hole-size-unknown", "map-sync")


def _free_ports(n):
    """``n`` distinct TCP ports free now on 127.0.0.1."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def _node_ports(ports):
    """The ``ray start`` options that pin every fixed port of one node to ``ports``."""
    names = (
        "node-manager-port",
        "object-manager-port",
        "dashboard-agent-grpc-port",
        "dashboard-agent-listen-port",
        "metrics-export-port",
        "runtime-env-agent-port",
    )
    return [f"--{n}={p}" for n, p in zip(names, ports)]


def _stop(procs, timeout=20.0):
    """Stop the ``ray start --block`` processes ``procs`` and their process groups."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    end = time.monotonic() + timeout
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=max(0.1, end - time.monotonic()))
    for p in procs:  # the groups were created by Popen(start_new_session=True) below
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=5)


def _wait_for_nodes(env, address, n, procs, log, timeout=120.0):
    """Wait until the cluster at ``address`` has ``n`` live nodes (a driver subprocess
    asks); fail with the nodes' log when a ``ray start`` of ``procs`` exits or time runs
    out."""
    code = (
        "import ray,sys;ray.init(address=sys.argv[1],include_dashboard=False,"
        "log_to_driver=False);print(sum(x['Alive'] for x in ray.nodes()))"
    )
    host, port = address.rsplit(":", 1)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(p.poll() is not None for p in procs):
            break
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            r = subprocess.run(
                [sys.executable, "-c", code, address],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if r.returncode == 0 and r.stdout.strip() == str(n):
                return
        except (OSError, subprocess.TimeoutExpired):
            pass
        time.sleep(1)
    with open(log) as f:
        tail = f.read()[-2000:]
    pytest.fail(f"the Ray cluster at {address} did not reach {n} nodes:\n{tail}")


@pytest.fixture(scope="module")
def cluster():
    """``(address, env)`` of a running two-node cluster with token authentication."""
    pytest.importorskip("ray", reason="the Ray cluster test needs Ray (daxcheck[distributed])")
    tmp = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # Ray's socket paths must stay short
    token = os.path.join(tmp, "token")
    with open(token, "w") as f:
        f.write(secrets.token_hex(32))
    env = dict(os.environ)
    env.update(
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN_PATH=token,
        RAY_USAGE_STATS_ENABLED="0",
        RAY_DEDUP_LOGS="0",
    )
    env.pop("RAY_ADDRESS", None)
    gcs, dash, *rest = _free_ports(14)
    address = f"127.0.0.1:{gcs}"
    ray = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--num-cpus=1"]
    common = ["--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    log = os.path.join(tmp, "nodes.log")
    procs = []
    try:
        head = ray + ["--head", f"--port={gcs}", f"--temp-dir={tmp}", "--include-dashboard=false"]
        head += [f"--dashboard-port={dash}"]
        with open(log, "w") as out:
            for cmd in (
                head + common + _node_ports(rest[:6]),
                ray + [f"--address={address}"] + common + _node_ports(rest[6:12]),
            ):
                procs.append(
                    subprocess.Popen(
                        cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
                _wait_for_nodes(env, address, len(procs), procs, log)
        yield address, env
    finally:
        _stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


def _daxcheck(env, *args, tmp):
    """Run the CLI with ``--json``; the parsed rows and the completed process."""
    out = os.path.join(tmp, f"r{secrets.token_hex(4)}.json")
    r = subprocess.run(
        [sys.executable, "-m", "daxcheck", *args, "--json", out, "--out", tmp],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "Traceback" not in r.stderr, r.stderr
    with open(out) as f:
        return json.load(f), r


def _rows(data):
    """Per design x property: verdict, depth and states (the comparable fields)."""
    rows = data["results"] if isinstance(data, dict) and "results" in data else data
    return sorted(
        (x["design"], x["property"], x["verdict"], x.get("depth"), x.get("states")) for x in rows
    )


def test_check_on_the_cluster_matches_the_local_engine(cluster, tmp_path):
    address, env = cluster
    designs = [a for d in DESIGNS for a in ("--design", d)]
    local, rl = _daxcheck(env, "check", *designs, tmp=str(tmp_path))
    remote, rr = _daxcheck(
        env, "check", *designs, "--workers", "2", "--ray-address", address, tmp=str(tmp_path)
    )
    assert rr.returncode == rl.returncode == 12, rr.stdout + rr.stderr
    assert _rows(remote) == _rows(local)


def test_simulate_on_the_cluster_through_auto(cluster, tmp_path):
    """``--ray-address auto`` finds the cluster through RAY_ADDRESS, as ``ray.init`` does;
    RAY_AUTH_MODE unset: the token file given turns token mode on for the driver."""
    address, env = cluster
    env = dict(env, RAY_ADDRESS=address)
    del env["RAY_AUTH_MODE"]
    args = ("simulate", "--design", "hole-size-unknown", "--runs", "40", "--workers", "2")
    a, ra = _daxcheck(env, *args, "--ray-address", "auto", tmp=str(tmp_path))
    b, rb = _daxcheck(env, *args, "--ray-address", address, tmp=str(tmp_path))
    assert ra.returncode == rb.returncode == 12, ra.stdout + ra.stderr
    assert _rows(a) == _rows(b)


@pytest.mark.thorough  # Ray retries a refused join for about 20 s
def test_a_wrong_token_is_one_line_naming_the_token(cluster, tmp_path):
    address, env = cluster
    bad = str(tmp_path / "bad")
    with open(bad, "w") as f:
        f.write(secrets.token_hex(32))
    env = dict(env, RAY_AUTH_TOKEN_PATH=bad)
    r = subprocess.run(
        [sys.executable, "-m", "daxcheck", "check", "--design", "map-sync"]
        + ["--workers", "2", "--ray-address", address],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "token" in r.stderr.splitlines()[-1], r.stderr


@pytest.mark.parametrize(
    "env,msg",
    [
        ({"RAY_AUTH_MODE": "tokens"}, "RAY_AUTH_MODE=tokens: expected one of"),
        ({"RAY_AUTH_TOKEN_PATH": "{tmp}/missing"}, "cannot read the Ray token"),
        ({"RAY_AUTH_TOKEN_PATH": "{tmp}/empty"}, "the Ray token file is empty"),
    ],
)
def test_bad_token_settings_are_named_before_ray_starts(monkeypatch, tmp_path, env, msg):
    from daxcheck.checker.distributed.session import DistributedError, ray_session

    (tmp_path / "empty").write_text("\n")
    for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v.format(tmp=tmp_path))
    with pytest.raises(DistributedError, match=msg), ray_session(2, "127.0.0.1:1"):
        pass

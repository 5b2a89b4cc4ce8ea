"""A QEMU guest running a Debian kernel's fsdax path on an emulated NVDIMM.

:class:`DaxGuest` boots the :mod:`fixture`'s kernel and initramfs under QEMU (TCG; KVM fails
on this machine kind) with a file-backed NVDIMM (``pmem.img``, 512 MiB, sparse), and talks
to ``daxguest`` (the guest's command server) over the second serial port, a unix socket on
the host: one command line out, one answer line back (``ok ...`` or ``err ERRNO what``).

* :meth:`DaxGuest.boot` starts QEMU and waits for ``ready <uname -r>``;
  :meth:`DaxGuest.crash` SIGKILLs QEMU (the guest's stores are all in the shared backing
  file: QEMU has no CPU cache model) and boots again on the same image, so the next mount
  runs XFS log recovery.
* A watchdog: every answer has a deadline (:data:`CMD_TIMEOUT`, :data:`BOOT_TIMEOUT`); a
  guest that hangs, pauses (QEMU pauses on a KVM internal error) or dies raises
  :class:`GuestError` and is killed.
* Nothing survives daxcheck: QEMU is started with ``PR_SET_PDEATHSIG(SIGKILL)`` in its own
  process group, :meth:`DaxGuest.close` kills it and removes the work folder (image, socket,
  console log); the class is a context manager.
* The guest's console (``console=ttyS0``) goes to ``console.log``;
  :meth:`DaxGuest.kernel_warnings` returns the WARN/BUG/Oops lines printed since the last
  call, which the oracle treats as a mismatch unless the spec predicts a kernel warning.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from .fixture import Fixture

PMEM_BYTES = 512 << 20
"""Size of the emulated NVDIMM (bytes); mkfs.xfs refuses much less."""

BOOT_TIMEOUT = 120.0
"""Seconds from QEMU start to the guest's ``ready`` line (TCG boot is ~15 s idle)."""

CMD_TIMEOUT = 60.0
"""Seconds one command may take in the guest before it is declared hung."""

WARN_RE = re.compile(
    r"(WARNING:|BUG:|Oops|kernel BUG|Call Trace:|general protection|"
    r"XFS \(pmem0\): (?:Corruption|Internal error|metadata I/O error))"
)
"""Console lines that are a kernel warning (a mismatch unless the spec predicts one)."""

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


class GuestError(RuntimeError):
    """The guest did not boot, hung, paused or died; the message is one line."""


class CommandError(OSError):
    """A guest command answered ``err ERRNO what`` (``errno`` is the kernel's; -7 is a
    SIGBUS on a store or load through a mapping)."""


def _child_setup() -> None:  # runs in the forked child before exec
    os.setpgrp()
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class DaxGuest:
    """One QEMU guest on one pmem image; see the module docstring.  ``workdir`` (default: a
    new temporary folder, removed by :meth:`close`) holds ``pmem.img``, ``cmd.sock`` and
    ``console.log``.  Raises GuestError when QEMU cannot start or the guest does not answer.
    """

    def __init__(
        self, fixture: Fixture, workdir: str | None = None, smp: int = 1, memory: str = "1G"
    ):
        self.fixture = fixture
        self._own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="daxcheck-qemu-")
        self.image = os.path.join(self.dir, "pmem.img")
        self.sock_path = os.path.join(self.dir, "cmd.sock")
        self.console = os.path.join(self.dir, "console.log")
        self.smp, self.memory = smp, memory
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self._buf = b""
        self._console_pos = 0
        self.release = ""
        self.warned: list[str] = []
        self.boots = 0
        self.boot_seconds: list[float] = []
        if not os.path.exists(self.image):
            with open(self.image, "wb") as fh:
                fh.truncate(PMEM_BYTES)

    # -------------------------------------------------------------- lifecycle
    def _argv(self) -> list[str]:
        f = self.fixture
        return [
            "qemu-system-x86_64",
            "-machine",
            "pc,nvdimm=on",
            "-accel",
            "tcg",
            "-cpu",
            "max",
            "-smp",
            str(self.smp),
            "-m",
            f"{self.memory},slots=2,maxmem=4G",
            "-object",
            f"memory-backend-file,id=mem1,share=on,mem-path={self.image},size={PMEM_BYTES}",
            "-device",
            "nvdimm,id=nv1,memdev=mem1",
            "-kernel",
            f.vmlinuz,
            "-initrd",
            f.initrd,
            "-append",
            "console=ttyS0 panic=-1 loglevel=5",
            "-display",
            "none",
            "-monitor",
            "none",
            "-no-reboot",
            "-nodefaults",
            "-chardev",
            f"file,id=con,path={self.console},append=on",
            "-serial",
            "chardev:con",
            "-chardev",
            f"socket,id=cmd,path={self.sock_path},server=on,wait=off",
            "-device",
            "isa-serial,chardev=cmd",
        ]

    def boot(self) -> str:
        """Start QEMU and wait for the guest's ``ready`` line; return its kernel release.
        Raises GuestError (QEMU missing or exited, no answer in :data:`BOOT_TIMEOUT`)."""
        self._kill()
        t0 = time.monotonic()
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        self._console_pos = os.path.getsize(self.console) if os.path.exists(self.console) else 0
        try:
            self.proc = subprocess.Popen(
                self._argv(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                preexec_fn=_child_setup,
            )
        except OSError as e:
            raise GuestError(f"cannot start qemu-system-x86_64: {e.strerror}") from None
        deadline = t0 + BOOT_TIMEOUT
        while not os.path.exists(self.sock_path):
            self._check_alive("while starting")
            if time.monotonic() > deadline:
                self._kill()
                raise GuestError("QEMU did not open its command socket")
            time.sleep(0.02)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(self.sock_path)
        except OSError as e:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            self._check_alive("while starting")
            self._kill()
            raise GuestError(f"cannot connect to QEMU's command socket: {e.strerror}") from None
        self._buf = b""
        line = self._readline(deadline, "boot")
        while not line.startswith("ready "):
            line = self._readline(deadline, "boot")
        self.release = line.split()[1]
        self.warned = []
        self.boots += 1
        self.boot_seconds.append(time.monotonic() - t0)
        return self.release

    def _check_alive(self, when: str) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            err = (
                self.proc.stderr.read().decode(errors="replace").strip().splitlines()
                if self.proc.stderr
                else []
            )
            tail = self.console_tail()
            msg = (
                f"QEMU exited {when} (status {self.proc.returncode})"
                + (f": {err[-1]}" if err else "")
                + (f"; console: {tail}" if tail else "")
            )
            self._kill()
            raise GuestError(" ".join(msg.split()))

    def console_tail(self) -> str:
        """The last non-empty console line (for error messages), or ''."""
        try:
            with open(self.console, "rb") as fh:
                lines = [x for x in fh.read().decode(errors="replace").splitlines() if x.strip()]
            return lines[-1].strip() if lines else ""
        except OSError:
            return ""

    def _kill(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None

    def crash(self) -> str:
        """SIGKILL QEMU at this point (a power failure: every store already reached the
        backing file, nothing else did) and boot again on the same image; return the
        release.  The caller mounts the filesystem, which runs log recovery."""
        self._kill()
        return self.boot()

    def close(self) -> None:
        """Kill QEMU and remove the work folder if this object created it."""
        self._kill()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> DaxGuest:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -------------------------------------------------------------- commands
    def _readline(self, deadline: float, what: str) -> str:
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self._kill()
                raise GuestError(f"guest hung: no answer to {what!r} in time (killed)")
            r, _, _ = select.select([self.sock], [], [], min(left, 1.0))
            if not r:
                self._check_alive(f"during {what!r}")
                continue
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:  # QEMU is going away: give it a moment to exit and say why
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=5)
                self._check_alive(f"during {what!r}")
                self._kill()
                raise GuestError(f"guest closed the command port during {what!r}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode(errors="replace").strip("\r")

    def raw(self, line: str, timeout: float = CMD_TIMEOUT) -> str:
        """Send one command line, return the answer line as is (``ok ...``/``err ...``).
        Raises GuestError on a hang or a dead guest."""
        if self.sock is None:
            raise GuestError("guest is not running")
        try:
            self.sock.sendall(line.encode() + b"\n")
        except OSError as e:
            self._check_alive(f"sending {line!r}")
            self._kill()
            raise GuestError(f"guest command port failed sending {line!r}: {e.strerror}") from None
        return self._readline(time.monotonic() + timeout, line)

    def cmd(self, line: str, timeout: float = CMD_TIMEOUT) -> dict:
        """Send one command; return the answer's ``key=value`` fields as a dict (empty for a
        bare ``ok``).  Raises CommandError(errno, what) for ``err``, GuestError on a hang."""
        ans = self.raw(line, timeout)
        parts = ans.split()
        if parts and parts[0] == "ok":
            return dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if len(parts) >= 2 and parts[0] == "err":
            raise CommandError(int(parts[1]), " ".join(parts[2:]) or line)
        raise GuestError(f"guest answered {ans!r} to {line!r}")

    def kernel_warnings(self) -> list[str]:
        """Console lines matching :data:`WARN_RE` printed since the last call (or boot);
        all of this boot's are kept in ``warned`` (a WARN_ON_ONCE fires once a boot)."""
        try:
            with open(self.console, "rb") as fh:
                fh.seek(self._console_pos)
                data = fh.read()
        except OSError:
            return []
        self._console_pos += len(data)
        new = [
            ln.strip() for ln in data.decode(errors="replace").splitlines() if WARN_RE.search(ln)
        ]
        self.warned += new
        return new

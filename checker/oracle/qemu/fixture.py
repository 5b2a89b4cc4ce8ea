"""The real-DAX kernel fixture: a Debian kernel, its modules and an initramfs, in a cache folder.

``daxcheck kernel setup --kernel 6.12`` (:func:`setup`) prepares, from Debian packages only:

* the pinned ``linux-image-*-unsigned`` package of :data:`KERNELS`, fetched with
  ``apt-get download`` and unpacked with ``dpkg-deb -x`` into
  ``$XDG_CACHE_HOME/daxcheck/kernel/<kernel>/`` (never into /boot);
* the modules the guest loads, in ``modprobe --show-depends`` order (libnvdimm, nfit,
  nd_pmem, xfs, ext4 and what they need), decompressed for busybox's insmod;
* an initramfs (cpio + gzip) holding busybox-static, mkfs.xfs, mke2fs, xfs_io, ndctl with
  the shared libraries ``ldd`` lists, the guest command server ``daxguest`` (``daxguest.c``
  beside this file, built with ``gcc -static``) and an ``/init`` that loads the modules,
  converts the emulated NVDIMM's label-less raw namespace to fsdax once (the info block
  persists in the pmem image) and execs ``daxguest`` on the second serial port.

Facts this relies on are in the project's notes on real DAX in QEMU (TCG, Debian 12 host):
6.12's modules are ``.ko.xz``; the NVDIMM must be >= 512 MiB for mkfs.xfs; KVM fails here.
Errors: :class:`FixtureError` with a one-line reason (not root, a missing tool and the
Debian package that has it, the package mirror unreachable, an unknown kernel).
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass

KERNELS = {
    "6.12": "linux-image-6.12.118+deb12-amd64-unsigned",
    "6.1": "linux-image-6.1.0-55-amd64-unsigned",
}
"""The kernels the real-DAX oracle boots: version label -> pinned Debian package name."""

MODULES = ("libnvdimm", "nfit", "nd_pmem", "xfs", "ext4")
"""Modules the guest loads (with their dependencies, in ``modprobe`` order)."""

TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "busybox": "busybox-static",
    "depmod": "kmod",
    "modprobe": "kmod",
    "xz": "xz-utils",
    "cpio": "cpio",
    "mkfs.xfs": "xfsprogs",
    "xfs_io": "xfsprogs",
    "mke2fs": "e2fsprogs",
    "ndctl": "ndctl",
    "gcc": "gcc",
    "apt-get": "apt",
    "dpkg-deb": "dpkg",
}
"""Host commands the fixture needs -> the Debian package that provides each."""

GUEST_BINARIES = ("mkfs.xfs", "mke2fs", "xfs_io", "ndctl")
"""Dynamically linked host programs copied into the initramfs with their libraries."""

FIXTURE_VERSION = "3"
"""Bumped when the initramfs layout or init changes, so a stale cache is rebuilt."""

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /mnt /tmp /run
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo 5 > /proc/sys/kernel/printk
for m in $(cat /lib/modules.order); do insmod /lib/mod/$m || echo "daxguest-init: insmod $m failed"; done
# no background log force in a run (the XFS log worker would push the CIL every 30 s): a
# crash then shows exactly what fsync, MAP_SYNC faults and other log forces made durable
echo 720000 > /proc/sys/fs/xfs/xfssyncd_centisecs
i=0
while [ ! -e /sys/bus/nd/devices/namespace0.0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
if ! ndctl list -n namespace0.0 | grep -q fsdax; then
  ndctl create-namespace -f -e namespace0.0 -m fsdax --map=dev >/dev/null || echo "daxguest-init: ndctl failed"
fi
i=0
while [ ! -b /dev/pmem0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
echo "daxguest-init: pmem ready"
exec /bin/daxguest /dev/ttyS1
"""


class FixtureError(RuntimeError):
    """The kernel fixture cannot be prepared or found; the message is one line."""


@dataclass(frozen=True)
class Fixture:
    """A prepared kernel: ``kernel`` label ('6.12'), ``release`` (uname -r),
    ``vmlinuz`` and ``initrd`` paths in the cache folder."""

    kernel: str
    release: str
    vmlinuz: str
    initrd: str


def cache_root() -> str:
    """``$XDG_CACHE_HOME/daxcheck/kernel`` (default ``~/.cache/daxcheck/kernel``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "daxcheck", "kernel")


def check_kernel(kernel: str) -> str:
    """Return ``kernel`` if it is a label of :data:`KERNELS`; raise FixtureError naming the
    known labels otherwise."""
    if kernel not in KERNELS:
        raise FixtureError(f"unknown kernel {kernel!r}: choose one of {', '.join(KERNELS)}")
    return kernel


def missing_tools() -> list[str]:
    """The Debian packages whose commands are missing on this host (sorted, unique)."""
    return sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})


def host_reason() -> str | None:
    """Why this host cannot run the real-DAX oracle at all (not root, missing packages), as
    one line, or None."""
    if os.geteuid() != 0:
        return "the real-DAX oracle needs root (apt-get download, QEMU with a pmem image)"
    miss = missing_tools()
    if miss:
        return f"the real-DAX oracle needs Debian packages: apt-get install {' '.join(miss)}"
    return None


def _dir(kernel: str) -> str:
    return os.path.join(cache_root(), check_kernel(kernel))


def _stamp_ok(d: str) -> bool:
    try:
        with open(os.path.join(d, "READY")) as fh:
            return fh.read().strip() == FIXTURE_VERSION + " " + _guest_source_hash()
    except OSError:
        return False


def _guest_source_hash() -> str:
    with open(os.path.join(os.path.dirname(__file__), "daxguest.c"), "rb") as fh:
        return hashlib.sha256(fh.read() + INIT.encode()).hexdigest()[:16]


def find(kernel: str) -> Fixture | None:
    """The prepared fixture for ``kernel`` if :func:`setup` completed for this version of
    the guest code, else None.  Raises FixtureError for an unknown kernel."""
    d = _dir(kernel)
    if not _stamp_ok(d):
        return None
    with open(os.path.join(d, "release")) as fh:
        release = fh.read().strip()
    return Fixture(kernel, release, os.path.join(d, "vmlinuz"), os.path.join(d, "initrd.cpio.gz"))


def unavailable_reason(kernel: str = "6.12") -> str | None:
    """Why the real-DAX oracle on ``kernel`` cannot run now, as one line naming the
    command that fixes it, or None when :func:`find` has a fixture and the host has the
    tools.  Raises FixtureError for an unknown kernel."""
    check_kernel(kernel)
    why = host_reason()
    if why:
        return why
    if find(kernel) is None:
        return f"no kernel fixture for {kernel}: run `daxcheck kernel setup --kernel {kernel}`"
    return None


def _run(cmd: list[str], what: str, cwd: str | None = None) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
        raise FixtureError(f"{what} failed: {last}")
    return r.stdout


def _download(pkg: str, dest: str) -> str:
    os.makedirs(dest, exist_ok=True)
    debs = glob.glob(os.path.join(dest, f"{pkg}_*.deb"))
    if debs:
        return debs[0]
    r = subprocess.run(["apt-get", "download", pkg], cwd=dest, capture_output=True, text=True)
    if r.returncode != 0:
        _run(["apt-get", "update", "-q"], "apt-get update")
        _run(["apt-get", "download", pkg], f"apt-get download {pkg} (no package mirror?)", cwd=dest)
    debs = glob.glob(os.path.join(dest, f"{pkg}_*.deb"))
    if not debs:
        raise FixtureError(f"apt-get download {pkg} left no .deb in {dest}")
    return debs[0]


def _module_order(root: str, release: str) -> list[str]:
    """Module files (absolute) in load order for :data:`MODULES`, from
    ``modprobe --show-depends`` against the unpacked tree (one call per module: extra names
    would be taken as module parameters)."""
    order: list[str] = []
    for m in MODULES:
        out = _run(
            ["modprobe", "-C", os.devnull, "--show-depends", "-d", root, "-S", release, m],
            f"modprobe --show-depends {m}",
        )
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "insmod" and parts[1] not in order:
                order.append(parts[1])
    return order


def _libs(binary: str) -> list[str]:
    out = _run(["ldd", binary], f"ldd {binary}")
    libs = []
    for line in out.split("\n"):
        for tok in line.split():
            if tok.startswith("/") and os.path.exists(tok):
                libs.append(tok)
    return libs


def _build_initrd(work: str, modules: list[str], out_path: str) -> None:
    root = os.path.join(work, "initrd")
    shutil.rmtree(root, ignore_errors=True)
    for sub in ("bin", "sbin", "lib/mod", "lib64", "etc", "dev", "proc", "sys", "mnt", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    shutil.copy2(shutil.which("busybox"), os.path.join(root, "bin", "busybox"))
    names = []
    for i, mod in enumerate(modules):
        name = f"{i:02d}-{os.path.basename(mod)}"
        dst = os.path.join(root, "lib", "mod", name)
        if mod.endswith(".xz"):
            dst = dst[:-3]
            with open(dst, "wb") as fh:
                fh.write(subprocess.run(["xz", "-dc", mod], capture_output=True, check=True).stdout)
        else:
            shutil.copy2(mod, dst)
        names.append(os.path.basename(dst))
    with open(os.path.join(root, "lib", "modules.order"), "w") as fh:
        fh.write("\n".join(names) + "\n")
    libs: set[str] = set()
    for b in GUEST_BINARIES:
        path = shutil.which(b)
        shutil.copy2(path, os.path.join(root, "sbin", b))
        libs.update(_libs(path))
    for lib in libs:
        dst = os.path.join(root, lib.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(lib, dst)
    src = os.path.join(os.path.dirname(__file__), "daxguest.c")
    _run(
        ["gcc", "-static", "-O2", "-o", os.path.join(root, "bin", "daxguest"), src],
        "gcc -static daxguest.c (apt-get install gcc libc6-dev)",
    )
    with open(os.path.join(root, "init"), "w") as fh:
        fh.write(INIT)
    os.chmod(os.path.join(root, "init"), 0o755)
    files = _run(["find", ".", "-mindepth", "1"], "find initrd", cwd=root)
    cpio = subprocess.run(
        ["cpio", "-o", "-H", "newc", "--quiet"], input=files.encode(), capture_output=True, cwd=root
    )
    if cpio.returncode != 0:
        raise FixtureError(f"cpio failed: {cpio.stderr.decode().strip()}")
    with gzip.open(out_path + ".tmp", "wb", compresslevel=1) as fh:
        fh.write(cpio.stdout)
    os.replace(out_path + ".tmp", out_path)
    shutil.rmtree(root, ignore_errors=True)


def setup(kernel: str = "6.12", log=print) -> Fixture:
    """Prepare (or find) the fixture for ``kernel``: download and unpack the pinned Debian
    kernel package, list its modules, build the initramfs.  Idempotent: a finished fixture
    (stamped with :data:`FIXTURE_VERSION` and the guest code's hash) is returned as is.
    ``log`` receives one line per step.  Raises FixtureError (one line) when the host
    cannot do it."""
    check_kernel(kernel)
    why = host_reason()
    if why:
        raise FixtureError(why)
    have = find(kernel)
    if have is not None:
        return have
    d = _dir(kernel)
    os.makedirs(d, exist_ok=True)
    pkg = KERNELS[kernel]
    log(f"kernel {kernel}: apt-get download {pkg}")
    deb = _download(pkg, os.path.join(cache_root(), "debs"))
    tree = os.path.join(d, "tree")
    shutil.rmtree(tree, ignore_errors=True)
    log(f"kernel {kernel}: dpkg-deb -x {os.path.basename(deb)}")
    _run(["dpkg-deb", "-x", deb, tree], "dpkg-deb -x")
    vm = glob.glob(os.path.join(tree, "boot", "vmlinuz-*"))
    if not vm:
        raise FixtureError(f"{pkg} has no boot/vmlinuz-*")
    release = os.path.basename(vm[0])[len("vmlinuz-") :]
    _run(["depmod", "-b", tree, release], "depmod")
    modules = _module_order(tree, release)
    log(
        f"kernel {kernel}: initramfs with {len(modules)} modules, busybox, xfsprogs, ndctl, daxguest"
    )
    initrd = os.path.join(d, "initrd.cpio.gz")
    _build_initrd(d, modules, initrd)
    shutil.copy2(vm[0], os.path.join(d, "vmlinuz"))
    shutil.rmtree(tree, ignore_errors=True)  # the modules we need are in the initramfs
    with open(os.path.join(d, "release"), "w") as fh:
        fh.write(release + "\n")
    with open(os.path.join(d, "READY"), "w") as fh:
        fh.write(FIXTURE_VERSION + " " + _guest_source_hash() + "\n")
    return find(kernel)

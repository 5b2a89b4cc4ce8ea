"""Thin wrappers over the Linux file interfaces the kernel oracle drives.

Everything here talks to a real kernel: a loop-mounted XFS image (:func:`xfs_mount`), the
syscalls and ioctls the spec's actions model (fallocate with punch-hole, FICLONE,
FICLONERANGE, FIEMAP) and the XFS shutdown ioctl used by the crash experiment.  Offsets and
lengths are in **bytes** unless a name says blocks.  Errors from the kernel propagate as
``OSError`` with the kernel's errno.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import glob
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
from dataclasses import dataclass

BLOCK = 4096
"""Filesystem block size the oracle formats with (bytes); one spec block."""

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02

FICLONE = 0x40049409  # _IOW(0x94, 9, int)
FICLONERANGE = 0x4020940D  # _IOW(0x94, 13, struct file_clone_range)
FS_IOC_FIEMAP = 0xC020660B  # _IOWR('f', 11, struct fiemap)
XFS_IOC_GOINGDOWN = 0x8004587D  # _IOR('X', 125, __u32)
XFS_FSOP_GOING_FLAGS_NOLOGFLUSH = 0x2

FIEMAP_FLAG_SYNC = 0x1
FIEMAP_EXTENT_LAST = 0x1
FIEMAP_EXTENT_UNKNOWN = 0x2
FIEMAP_EXTENT_DELALLOC = 0x4
FIEMAP_EXTENT_UNWRITTEN = 0x800
FIEMAP_EXTENT_SHARED = 0x2000

_FIEMAP_HDR = struct.Struct("=QQIIII")  # fm_start, fm_length, flags, mapped, count, reserved
_FIEMAP_EXT = struct.Struct("=QQQQQIIII")  # logical, physical, length, res64[2], flags, res32[3]

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
_libc.fallocate.restype = ctypes.c_int
_libc.sync_file_range.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
_libc.sync_file_range.restype = ctypes.c_int


class OracleUnavailable(RuntimeError):
    """The kernel oracle cannot run on this machine; the message is a one-line reason."""


def unavailable_reason() -> str | None:
    """Why the kernel oracle cannot run here, as one line (not root, no mkfs.xfs, no loop
    device, no XFS in the kernel), or None when it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "kernel oracle needs root (to mkfs.xfs and mount a loop device)"
    for tool in ("mkfs.xfs", "losetup", "mount", "umount"):
        if shutil.which(tool) is None:
            return f"kernel oracle needs {tool} (apt-get install xfsprogs util-linux mount)"
    if not os.path.exists("/dev/loop-control") and not os.path.exists("/dev/loop0"):
        return "kernel oracle needs a loop device (/dev/loop-control is missing)"
    try:
        with open("/proc/filesystems") as fh:
            if not any(line.split()[-1] == "xfs" for line in fh if line.strip()):
                # may be a module that mount would load; let modprobe try quietly
                if subprocess.run(["modprobe", "xfs"], capture_output=True).returncode != 0:
                    return "kernel oracle needs XFS support in the running kernel"
    except OSError:
        return "kernel oracle cannot read /proc/filesystems"
    return None


def _run(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise OracleUnavailable(
            f"{' '.join(cmd)} failed: {(r.stderr or r.stdout).strip().splitlines()[-1:] or ['?']}"
        )
    return r.stdout


_PREFIX = "daxcheck-xfs-"
"""Name prefix of the oracle's temporary directories (image + mount point)."""
_OWNER = "daxcheck-oracle.owner"
"""Marker file in such a directory: the pid and start time of the process that made it, so
that a later run removes only what a *dead* run of its own left (never another mount)."""


def _start_time(pid: int) -> str | None:
    """Start time (clock ticks since boot, /proc/<pid>/stat field 22) of a live process, or
    None if there is no such process, or it is dead (a zombie) or dying (a SIGKILL pending:
    the supervisor's worker after a SIGKILL of ``daxcheck``, ``PR_SET_PDEATHSIG``)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X", "x"):
            return None
        with open(f"/proc/{pid}/status") as fh:
            pending = {
                k: int(v, 16)
                for k, _, v in (line.partition(":\t") for line in fh)
                if k in ("SigPnd", "ShdPnd")
            }
        if any(v >> (signal.SIGKILL - 1) & 1 for v in pending.values()):
            return None
        return fields[19]
    except (OSError, IndexError, ValueError):
        return None


def reap_stale_mounts(tmpdir: str | None = None) -> list[str]:
    """Clean up after oracle runs that were killed (SIGKILL, power loss of the session):
    for every ``daxcheck-xfs-*`` directory in ``tmpdir`` (default: the temporary directory)
    that carries this tool's owner marker naming a process that no longer runs, unmount
    its mount point, detach the loop devices backed by its image (``losetup -j``) and
    remove the directory.  Directories without the marker, or whose owner still runs, are
    never touched.  Returns the directories removed."""
    removed = []
    for top in glob.glob(os.path.join(tmpdir or tempfile.gettempdir(), _PREFIX + "*")):
        try:
            with open(os.path.join(top, _OWNER)) as fh:
                owner = json.load(fh)
            pid, start = int(owner["pid"]), str(owner["start"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _start_time(pid) == start:
            continue  # its owner is alive: not ours to clean
        mnt, image = os.path.join(top, "mnt"), os.path.join(top, "xfs.img")
        if os.path.ismount(mnt):
            _umount(mnt)
        if os.path.exists(image):
            r = subprocess.run(["losetup", "-j", image], capture_output=True, text=True)
            for line in r.stdout.splitlines():
                dev = line.split(":", 1)[0].strip()
                if dev.startswith("/dev/loop"):
                    subprocess.run(["losetup", "-d", dev], capture_output=True)
        if not os.path.ismount(mnt):
            shutil.rmtree(top, ignore_errors=True)
            removed.append(top)
    return removed


@contextlib.contextmanager
def xfs_mount(size_mb: int = 512):
    """Create a ``size_mb`` MiB sparse image in a fresh temporary directory, format it with
    ``mkfs.xfs -m reflink=1 -b size=4096``, attach it to a loop device and mount it; yields
    the mount point (a directory path).  Always unmounts, detaches the loop device and
    removes the image and directories when the body raises or the process is interrupted
    (SIGINT, and SIGTERM through the CLI); what a SIGKILLed run left behind is removed by
    the next run (:func:`reap_stale_mounts`).  Raises OracleUnavailable (one-line reason)
    when the oracle cannot run here or a step fails, ValueError for a size outside
    300..4096 MiB (mkfs.xfs needs >= 300 MiB)."""
    if not isinstance(size_mb, int) or isinstance(size_mb, bool) or not 300 <= size_mb <= 4096:
        raise ValueError(f"xfs_mount size_mb={size_mb!r} is not an int in 300..4096")
    why = unavailable_reason()
    if why:
        raise OracleUnavailable(why)
    reap_stale_mounts()
    top = tempfile.mkdtemp(prefix=_PREFIX)
    with open(os.path.join(top, _OWNER), "w") as fh:
        json.dump({"pid": os.getpid(), "start": _start_time(os.getpid())}, fh)
    image = os.path.join(top, "xfs.img")
    mnt = os.path.join(top, "mnt")
    os.mkdir(mnt)
    loop = None
    mounted = False
    try:
        with open(image, "wb") as fh:
            fh.truncate(size_mb << 20)
        _run(["mkfs.xfs", "-q", "-f", "-m", "reflink=1", "-b", f"size={BLOCK}", image])
        loop = _run(["losetup", "--find", "--show", image]).strip()
        _run(["mount", "-t", "xfs", loop, mnt])
        mounted = True
        yield XfsMount(mnt, loop, image)
    finally:
        if mounted:
            _umount(mnt)
        if loop:
            subprocess.run(["losetup", "-d", loop], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


def _umount(mnt: str) -> None:
    for _ in range(20):
        r = subprocess.run(["umount", mnt], capture_output=True, text=True)
        if r.returncode == 0 or not os.path.ismount(mnt):
            return
        subprocess.run(["sleep", "0.2"])
    subprocess.run(["umount", "-l", mnt], capture_output=True)


@dataclass
class XfsMount(os.PathLike):
    """A mounted scratch XFS: ``path`` (mount point), ``loop`` (/dev/loopN), ``image``.
    Behaves as a path (``os.fspath``).  :meth:`remount` unmounts and mounts again, which
    runs XFS log recovery if the log is dirty (after :func:`shutdown`)."""

    path: str
    loop: str
    image: str

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path

    def remount(self) -> None:
        """umount + mount (log recovery happens at mount).  Raises OracleUnavailable if the
        mount fails."""
        _umount(self.path)
        _run(["mount", "-t", "xfs", self.loop, self.path])


# ----------------------------------------------------------------------------- syscalls
def fallocate(fd: int, mode: int, offset: int, length: int) -> None:
    """fallocate(2) (bytes); raises OSError with the kernel's errno."""
    if _libc.fallocate(fd, mode, offset, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"fallocate(mode={mode:#x}, {offset}, {length}): {os.strerror(e)}")


def writeback(fd: int, offset: int, length: int) -> None:
    """sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER) over bytes offset..+length: write
    the dirty page cache back and wait for the I/O (I/O completion runs, e.g.
    xfs_reflink_end_cow), without fsync's log force.  Raises OSError."""
    if _libc.sync_file_range(fd, offset, length, 1 | 2 | 4) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"sync_file_range({offset}, {length}): {os.strerror(e)}")


def punch_hole(fd: int, offset: int, length: int) -> None:
    """fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) over bytes offset..+length
    (xfs_free_file_space)."""
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)


def ficlone(src_fd: int, dst_fd: int) -> None:
    """ioctl(dst, FICLONE, src): reflink all of src into dst from offset 0
    (xfs_reflink_remap_range with len 0 = to src EOF)."""
    fcntl.ioctl(dst_fd, FICLONE, src_fd)


def ficlonerange(src_fd: int, src_off: int, length: int, dst_fd: int, dst_off: int) -> None:
    """ioctl(dst, FICLONERANGE, {src_fd, src_off, length, dst_off}) (bytes; length 0 = to
    src EOF)."""
    fcntl.ioctl(dst_fd, FICLONERANGE, struct.pack("=qQQQ", src_fd, src_off, length, dst_off))


@dataclass(frozen=True)
class Extent:
    """One FIEMAP extent: ``logical``, ``physical``, ``length`` in bytes, ``flags``
    (FIEMAP_EXTENT_*)."""

    logical: int
    physical: int
    length: int
    flags: int

    @property
    def shared(self) -> bool:
        return bool(self.flags & FIEMAP_EXTENT_SHARED)

    @property
    def unwritten(self) -> bool:
        return bool(self.flags & FIEMAP_EXTENT_UNWRITTEN)


def fiemap(fd: int, *, sync: bool = True, max_extents: int = 256) -> list[Extent]:
    """FS_IOC_FIEMAP over the whole file (with FIEMAP_FLAG_SYNC: dirty page cache written
    back first, so delayed allocations and CoW remaps have happened).  Returns the data-fork
    extents in logical order.  Raises OSError on failure."""
    hdr = _FIEMAP_HDR.pack(
        0, 0xFFFFFFFFFFFFFFFF, FIEMAP_FLAG_SYNC if sync else 0, 0, max_extents, 0
    )
    buf = bytearray(hdr + bytes(_FIEMAP_EXT.size * max_extents))
    fcntl.ioctl(fd, FS_IOC_FIEMAP, buf, True)
    _, _, _, mapped, _, _ = _FIEMAP_HDR.unpack_from(buf, 0)
    out = []
    for i in range(mapped):
        lo, ph, ln, _, _, fl, _, _, _ = _FIEMAP_EXT.unpack_from(
            buf, _FIEMAP_HDR.size + i * _FIEMAP_EXT.size
        )
        out.append(Extent(lo, ph, ln, fl))
    return out


def block_map(fd: int, nblocks: int, *, sync: bool = True) -> list:
    """Per-block view of FIEMAP for blocks 0..nblocks-1: ``None`` for a hole, else
    ``(physical block number, shared, unwritten)``."""
    exts = fiemap(fd, sync=sync)
    out = []
    for x in range(nblocks):
        pos = x * BLOCK
        hit = None
        for e in exts:
            if e.logical <= pos < e.logical + e.length:
                hit = ((e.physical + pos - e.logical) // BLOCK, e.shared, e.unwritten)
                break
        out.append(hit)
    return out


def shutdown_nologflush(path: str) -> None:
    """ioctl(XFS_IOC_GOINGDOWN, XFS_FSOP_GOING_FLAGS_NOLOGFLUSH) on the filesystem holding
    ``path`` (what ``xfs_io -x -c shutdown`` does): the filesystem stops, the in-memory log
    (CIL) is not written, so a later mount recovers from the on-disk log only."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, XFS_IOC_GOINGDOWN, struct.pack("=I", XFS_FSOP_GOING_FLAGS_NOLOGFLUSH))
    finally:
        os.close(fd)

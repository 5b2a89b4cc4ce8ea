"""A concrete persistent-memory region with a simulated x86 CPU cache.

:class:`PmemBuffer` is a file-backed ``mmap`` (the *media*: what survives power loss) plus a
model of the volatile side of the x86 persistence domain, at 64-byte cache-line granularity:

* a cached store (``mov`` to write-back memory) is held in the CPU cache: it is visible to
  loads at once but reaches the media only when its line is written back by ``clwb`` /
  ``clflushopt`` **and** a later ``sfence`` orders that write-back (Intel SDM vol. 1
  §11.4.6.3, "Persistent Memory Programming", SNIA NVM model: flush + drain);
* a non-temporal store (``movnt``, the kernel's ``memcpy_flushcache`` /
  ``copy_from_iter_flushcache`` and the zeroing of ``dax_zero_page_range``) bypasses the
  cache (a dirty copy of the line is superseded) and reaches the media at the next fence;
* stores to one line reach the media in program order (a line is written back whole, so a
  later version of the line can only be on the media if every earlier one was, or was
  overwritten by it);
* a crash keeps the media and drops everything else.

Between two fences, which pending line versions reached the media is unknown: a crash may
leave any *prefix* of each line's pending versions (see :meth:`PmemBuffer.crash_images`).

Units: offsets and lengths in bytes from the start of the region; ``LINE`` = 64 bytes;
``BLOCK`` = 4096 bytes (one pmem page, one file block of the abstract model).
"""

from __future__ import annotations

import itertools
import mmap
import os
import random
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

LINE = 64
"""Bytes per CPU cache line (x86)."""
BLOCK = 4096
"""Bytes per pmem block (one 4 KiB page)."""
MAX_ENUM = 1 << 12
"""Crash images are enumerated exhaustively when there are at most this many."""


class PmemError(ValueError):
    """The pmem region cannot be set up or an access falls outside it: a ``--pmem`` path
    that does not exist, is not a regular file or device, is not writable, or is too
    small, or an offset beyond the region.  One-line message naming the path/offset."""


@dataclass(frozen=True)
class CrashImage:
    """One media image a crash can leave.

    index: position in the enumeration/sample; choice: ``((line, k), ...)`` for every line
    that had unpersisted versions, ``k`` = how many of its pending versions reached the
    media (0 = none, in program order); media: the whole region's bytes after the crash.
    """

    index: int
    choice: tuple
    media: bytes

    def persisted_lines(self) -> int:
        """Number of lines for which at least one pending version reached the media."""
        return sum(1 for _, k in self.choice if k)


class PmemBuffer:
    """A pmem region of ``size`` bytes backed by a file mmap, with a simulated CPU cache.

    ``path=None``: a fresh temporary file (removed by :meth:`close`).  With a user's
    ``path``: the file must exist, be writable and hold at least ``size`` bytes; unless
    ``force`` is True the first ``size`` bytes are copied to a temporary file next to it
    (same filesystem, e.g. a real fsdax mount) and the user's file is never written;
    with ``force`` the user's file itself is mapped and written.  Raises :class:`PmemError`.

    Attributes: ``size`` (bytes), ``path`` (the file actually mapped), ``user_path``,
    ``is_copy``.  Use as a context manager or call :meth:`close`.
    """

    def __init__(self, size: int, path: str | os.PathLike | None = None, *, force: bool = False):
        if size <= 0 or size % BLOCK:
            raise PmemError(f"pmem size {size} is not a positive multiple of {BLOCK} bytes")
        self.size = size
        self.user_path = None if path is None else os.fspath(path)
        self.is_copy = False
        self._tmp = None
        if path is None:
            fd, self._tmp = tempfile.mkstemp(prefix="daxcheck-pmem-", suffix=".img")
            os.ftruncate(fd, size)
            self.path = self._tmp
        else:
            p = self.user_path
            _check_user_file(p, size)
            if force:
                fd = os.open(p, os.O_RDWR)
                self.path = p
            else:
                fd = self._copy_of(p, size)
                self.is_copy = True
        try:
            self._mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except (OSError, ValueError) as e:
            os.close(fd)
            self._cleanup_tmp()
            raise PmemError(f"cannot mmap {self.path}: {e}") from None
        os.close(fd)
        self._pending: dict[int, list[bytes]] = {}  # line -> unpersisted versions, in order
        self._flushing: dict[int, int] = {}  # line -> versions persisted at next fence
        self.stats = {"stores": 0, "nt_stores": 0, "clwb": 0, "sfence": 0, "crashes": 0}

    def _copy_of(self, p: str, size: int) -> int:
        d = os.path.dirname(os.path.abspath(p))
        try:
            fd, tmp = tempfile.mkstemp(prefix=".daxcheck-pmem-copy-", suffix=".img", dir=d)
        except OSError:
            fd, tmp = tempfile.mkstemp(prefix="daxcheck-pmem-copy-", suffix=".img")
        self._tmp = tmp
        self.path = tmp
        try:
            with open(p, "rb") as src:
                left = size
                while left:
                    chunk = src.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    os.write(fd, chunk)
                    left -= len(chunk)
            os.ftruncate(fd, size)
        except OSError as e:
            os.close(fd)
            self._cleanup_tmp()
            raise PmemError(f"cannot copy pmem file {p}: {e.strerror}") from None
        return fd

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """msync and unmap the region; remove the temporary file if there is one."""
        mm = getattr(self, "_mm", None)
        if mm is not None and not mm.closed:
            mm.flush()
            mm.close()
        self._cleanup_tmp()

    def _cleanup_tmp(self):
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ helpers
    def _check(self, off: int, n: int) -> None:
        if off < 0 or n < 0 or off + n > self.size:
            raise PmemError(
                f"pmem access at bytes {off}-{off + n - 1} is outside the {self.size}-byte region"
            )

    @staticmethod
    def _lines(off: int, n: int) -> range:
        return range(off // LINE, (off + n + LINE - 1) // LINE) if n else range(0)

    def _line_view(self, ln: int) -> bytes:
        p = self._pending.get(ln)
        return p[-1] if p else self._mm[ln * LINE : (ln + 1) * LINE]

    def _put(self, off: int, data: bytes, *, nt: bool) -> None:
        data = bytes(data)
        self._check(off, len(data))
        for ln in self._lines(off, len(data)):
            a, b = max(off, ln * LINE), min(off + len(data), (ln + 1) * LINE)
            if a == ln * LINE and b == a + LINE:
                new = data[a - off : b - off]
            else:
                cur = bytearray(self._line_view(ln))
                cur[a - ln * LINE : b - ln * LINE] = data[a - off : b - off]
                new = bytes(cur)
            versions = self._pending.setdefault(ln, [])
            versions.append(new)
            if nt:
                self._flushing[ln] = len(versions)

    # ------------------------------------------------------------------ CPU operations
    def load(self, off: int, n: int) -> bytes:
        """What CPU loads of bytes ``off..off+n-1`` return: the newest version of each line
        (cached or non-temporal, x86 is coherent), else the media."""
        self._check(off, n)
        if not self._pending:
            return self._mm[off : off + n]
        out = bytearray()
        for ln in self._lines(off, n):
            out += self._line_view(ln)
        s = off - (off // LINE) * LINE
        return bytes(out[s : s + n])

    def store(self, off: int, data: bytes) -> None:
        """Cached store(s) of ``data`` at ``off`` (write-back memory): each touched line gets
        a new pending version, visible to loads, not on the media until clwb + sfence."""
        self.stats["stores"] += 1
        self._put(off, data, nt=False)

    def nt_store(self, off: int, data: bytes) -> None:
        """Non-temporal store(s) (movnt, memcpy_flushcache): a new pending version of each
        touched line that reaches the media at the next :meth:`sfence` (no clwb needed)."""
        self.stats["nt_stores"] += 1
        self._put(off, data, nt=True)

    def clwb(self, off: int, n: int) -> None:
        """clwb/clflushopt of every line overlapping ``off..off+n-1``: the line's current
        versions are written back at the next fence (not before: a crash may still lose
        them).  A later store to the line is not covered."""
        self._check(off, n)
        self.stats["clwb"] += 1
        for ln in self._lines(off, n):
            p = self._pending.get(ln)
            if p:
                self._flushing[ln] = len(p)

    def sfence(self) -> None:
        """sfence: every line version that was flushed (clwb) or stored non-temporally
        before it is now on the media; versions stored after the flush stay pending."""
        self.stats["sfence"] += 1
        for ln, k in self._flushing.items():
            p = self._pending[ln]
            self._mm[ln * LINE : (ln + 1) * LINE] = p[k - 1]
            rest = p[k:]
            if rest:
                self._pending[ln] = rest
            else:
                del self._pending[ln]
        self._flushing.clear()

    def persist(self, off: int, n: int) -> None:
        """clwb of the range then sfence (pmem_persist, arch_wb_cache_pmem + wmb)."""
        self.clwb(off, n)
        self.sfence()

    def evict(self, off: int, n: int) -> None:
        """The CPU writes back the dirty lines of the range on its own (cache eviction):
        their newest versions reach the media without any flush or fence."""
        self._check(off, n)
        for ln in self._lines(off, n):
            p = self._pending.pop(ln, None)
            if p:
                self._mm[ln * LINE : (ln + 1) * LINE] = p[-1]
            self._flushing.pop(ln, None)

    def write_media(self, off: int, data: bytes) -> None:
        """Write bytes straight onto the media, bypassing the CPU (used to lay down the
        pre-mkfs contents); drops any pending versions of the touched lines."""
        self._check(off, len(data))
        self._mm[off : off + len(data)] = data
        for ln in self._lines(off, len(data)):
            self._pending.pop(ln, None)
            self._flushing.pop(ln, None)

    # ------------------------------------------------------------------ inspection
    def media(self, off: int = 0, n: int | None = None) -> bytes:
        """The persisted bytes (what survives a crash for sure), ``off..off+n-1``."""
        n = self.size - off if n is None else n
        self._check(off, n)
        return self._mm[off : off + n]

    def dirty(self, off: int, n: int) -> bool:
        """Whether any line of the range has unpersisted versions (a dirty cache line or a
        non-temporal store not yet fenced)."""
        self._check(off, n)
        return any(ln in self._pending for ln in self._lines(off, n))

    def pending_lines(self) -> dict[int, int]:
        """``{line: number of unpersisted versions}`` for every line with some."""
        return {ln: len(p) for ln, p in sorted(self._pending.items())}

    # ------------------------------------------------------------------ crash
    def crash(self, image: CrashImage | None = None) -> None:
        """Power failure: the cache and the write-combining buffers are lost.  With no
        ``image`` nothing unpersisted reaches the media; with an image from
        :meth:`crash_images` the media becomes that image."""
        self.stats["crashes"] += 1
        if image is not None:
            self._mm[:] = image.media
        self._pending.clear()
        self._flushing.clear()

    def crash_image_count(self) -> int:
        """How many distinct choices a crash has now: the product over lines with pending
        versions of (versions + 1)."""
        n = 1
        for p in self._pending.values():
            n *= len(p) + 1
        return n

    def crash_images(
        self, sample: int | None = None, seed: int = 0, limit: int = MAX_ENUM
    ) -> Iterator[CrashImage]:
        """Yield the media images a crash can leave now, without changing the buffer.

        Every line with pending versions independently keeps a prefix of them (0..all, in
        program order: a later version never without the earlier ones).  If there are at
        most ``limit`` (2^12) choices, all are enumerated (the first is "nothing
        persisted").  Otherwise ``sample`` images (default ``limit``) are drawn with
        ``random.Random(seed)``: first "nothing persisted", then "everything persisted",
        then independent uniform prefixes per line.
        """
        lines = sorted(self._pending)
        base = self._mm[:]
        total = self.crash_image_count()

        def build(i, ks):
            if not any(ks):
                return CrashImage(i, tuple(zip(lines, ks)), base)
            m = bytearray(base)
            for ln, k in zip(lines, ks):
                if k:
                    m[ln * LINE : (ln + 1) * LINE] = self._pending[ln][k - 1]
            return CrashImage(i, tuple(zip(lines, ks)), bytes(m))

        if total <= limit:
            ranges = [range(len(self._pending[ln]) + 1) for ln in lines]
            for i, ks in enumerate(itertools.product(*ranges)):
                yield build(i, ks)
            return
        n = limit if sample is None else sample
        if n < 1:
            raise ValueError(f"crash image sample size must be >= 1, not {n}")
        rng = random.Random(seed)
        for i in range(n):
            if i == 0:
                ks = tuple(0 for _ in lines)
            elif i == 1:
                ks = tuple(len(self._pending[ln]) for ln in lines)
            else:
                ks = tuple(rng.randint(0, len(self._pending[ln])) for ln in lines)
            yield build(i, ks)


def _check_user_file(p: str, size: int) -> None:
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise PmemError(f"pmem file {p} does not exist") from None
    except OSError as e:
        raise PmemError(f"pmem file {p}: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise PmemError(f"pmem file {p} is a directory")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        raise PmemError(f"pmem file {p} is not a regular file or device")
    if not os.access(p, os.W_OK):
        raise PmemError(f"pmem file {p} is not writable")
    have = st.st_size
    if not stat.S_ISREG(st.st_mode):
        try:
            fd = os.open(p, os.O_RDONLY)
            try:
                have = os.lseek(fd, 0, os.SEEK_END)
            finally:
                os.close(fd)
        except OSError as e:
            raise PmemError(f"pmem file {p}: {e.strerror}") from None
    if have < size:
        raise PmemError(
            f"pmem file {p} is too small: {have} bytes, the trace needs {size} "
            f"({size // BLOCK} blocks of {BLOCK} bytes)"
        )


__all__ = ["PmemBuffer", "PmemError", "CrashImage", "LINE", "BLOCK", "MAX_ENUM"]

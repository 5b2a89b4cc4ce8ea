"""The bounds of a model: the sizes of its finite domains (:class:`Bounds`, the TLA+ .cfg
constants of daxcheck), validated against what the model supports.  Re-exported by
:mod:`daxcheck.spec.state`, where they were first declared."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as dc_fields

from .segments import cuts_problem

SEGS = 2
"""Default segments per block (``Bounds.segs``): the granule of partial writes (2 segments
of 2 KiB per 4 KiB block)."""
SEG_CHOICES = (1, 2, 4)
"""Segments per block a model may use (4 KiB / segs must be a whole number of 64-byte lines)."""


class BoundsError(ValueError):
    """A bound is outside the range the model supports; the message names it."""


@dataclass(frozen=True)
class Bounds:
    """Sizes of the finite domains (TLA+ .cfg constants).

    files:  number of inodes (1..3), named a, b, c.
    blocks: file blocks per file, each 4 KiB (1..3); also the PMD size in blocks.
    phys:   physical pmem blocks of the filesystem (1..6).
    tokens: distinct userspace data tokens (1..3).
    procs:  processes, each may mmap each file once (1..2).
    depth:  maximum number of actions in a trace (0..60).
    segs:   segments per 4 KiB block, the granule of sub-block writes (1, 2 or 4: 4096,
            2048 or 1024 bytes).
    threads: kernel threads that may each be inside one split (lock-delimited) operation
            at a time (1..3); only a race design (one with split operations in its scope,
            issue 11) has per-thread state, so at 1 every other design is unchanged.
    cuts:   byte offsets where segments end (issue 25, ``--segs 100,110``; ``segs ==
            len(cuts) + 1``); ``()``: an even split (:mod:`daxcheck.spec.segments`).
    Raises BoundsError from :meth:`validate`.
    """

    files: int = 2
    blocks: int = 1
    phys: int = 2
    tokens: int = 1
    procs: int = 1
    depth: int = 8
    segs: int = SEGS
    threads: int = 1
    cuts: tuple = ()

    LIMITS = {
        "files": (1, 3),
        "blocks": (1, 3),
        "phys": (1, 6),
        "tokens": (1, 3),
        "procs": (1, 2),
        "depth": (0, 60),
        "segs": (1, 4),
        "threads": (1, 3),
    }

    def __post_init__(self):
        if isinstance(self.cuts, list):  # as read back from JSON (an ITF trace's #meta)
            object.__setattr__(self, "cuts", tuple(self.cuts))

    def validate(self) -> Bounds:
        """Return self, or raise BoundsError naming the first bound out of range."""
        for f in dc_fields(self):
            if f.name == "cuts":
                continue
            lo, hi = self.LIMITS[f.name]
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise BoundsError(f"bound {f.name}={v!r} is out of range {lo}..{hi}")
        if self.cuts != () and cuts_problem(self.cuts, self.segs):
            raise BoundsError(cuts_problem(self.cuts, self.segs))
        if self.cuts == () and self.segs not in SEG_CHOICES:
            raise BoundsError(
                f"bound segs={self.segs} must be one of "
                f"{', '.join(map(str, SEG_CHOICES))} (4096 bytes split evenly)"
            )
        return self

    def replace(self, **kw) -> Bounds:
        """A copy with the given bounds changed (None values ignored), validated.  ``segs``
        may be a tuple of byte offsets (``--segs 100,110``): it sets ``cuts`` and
        ``segs = len(cuts) + 1``; an int ``segs`` without ``cuts`` splits evenly again."""
        d = {f.name: getattr(self, f.name) for f in dc_fields(self)}
        kw = {k: v for k, v in kw.items() if v is not None}
        if isinstance(kw.get("segs"), (tuple, list)):
            kw["segs"], kw["cuts"] = len(kw["segs"]) + 1, tuple(kw["segs"])
        d.update({"cuts": ()} if "segs" in kw else {}, **kw)
        return Bounds(**d).validate()

    def as_dict(self) -> dict:
        """The bounds as a dict; ``segs`` and ``threads`` only when they differ from the
        default (so traces and manifests of two-segment, one-thread models keep their
        shape)."""
        d = {f.name: getattr(self, f.name) for f in dc_fields(self)}
        if d["segs"] == SEGS:
            del d["segs"]
        if d["threads"] == 1:
            del d["threads"]
        d["cuts"] = list(d["cuts"])
        if not d["cuts"]:
            del d["cuts"]
        return d

"""Hook coverage (issue 25): every modelled kernel function an operation reaches is reached
through its ``Design`` hook (``D.<name>(...)``), never called directly, so a design that
overrides a hook changes that kernel step everywhere.  Checked by exploring every shipped
design a few levels with every hook wrapped and a profiler watching the kernel functions:
each call must come from its wrapper."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from daxcheck.checker.explicit.explore import explore
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.kernel import KERNEL_FUNCTIONS
from daxcheck.spec.model import DaxModel

DEPTH = 3


def _wrap(name):
    def dispatched(self, *args, **kw):
        return getattr(super(type(self), self), name)(*args, **kw)

    dispatched.__name__ = name
    return dispatched


DISPATCH_CODE = _wrap("x").__code__


def tracing(design):
    """``design`` as an instance of a subclass of its class whose every kernel hook is a
    wrapper calling the class's own method (so a dispatched call has the wrapper as caller)."""
    cls = type(design)
    wrapped = type(f"Tracing{cls.__name__}", (cls,), {n: _wrap(n) for n in KERNEL_FUNCTIONS})
    wrapped = dataclasses.dataclass(frozen=True)(wrapped)
    return wrapped(**{f.name: getattr(design, f.name) for f in dataclasses.fields(design)})


def direct_calls(design, depth=DEPTH) -> dict:
    """``{kernel function: "file:line" of a caller}`` for each kernel function called other
    than through its hook while exploring ``design`` to ``depth`` (reference explorer, no
    memoisation: every transition runs)."""
    codes = {fn.__code__: name for name, fn in KERNEL_FUNCTIONS.items()}
    found: dict = {}

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            caller = frame.f_back
            if caller is not None and caller.f_code is not DISPATCH_CODE:
                where = f"{caller.f_code.co_filename}:{caller.f_lineno}"
                found.setdefault(codes[frame.f_code], where)

    model = DaxModel(tracing(design))
    sys.setprofile(profile)
    try:
        explore(model, list(PROPERTIES.values()), depth=depth, batched=False, memo=False)
    finally:
        sys.setprofile(None)
    return found


@pytest.mark.parametrize("name", list(DESIGNS))
def test_every_kernel_step_goes_through_a_hook(name):
    assert direct_calls(DESIGNS[name]) == {}


def test_the_check_sees_a_direct_call():
    from daxcheck.spec.kernel import mm

    @dataclasses.dataclass(frozen=True)
    class Direct(type(DESIGNS["cow-srcmap"])):
        def xfs_flush_unmap_range(self, L, d, f, x):
            self.dax_writeback_one(L, d, f, x)
            mm.invalidate_inode_pages2_range(self, L, d, f, x)  # not through the hook

    d = DESIGNS["cow-srcmap"]
    bad = Direct(**{f.name: getattr(d, f.name) for f in dataclasses.fields(d)})
    assert "invalidate_inode_pages2_range" in direct_calls(bad, depth=3)

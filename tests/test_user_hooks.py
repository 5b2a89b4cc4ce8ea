"""User hooks are first-class (issue 25): a user file declares a hook with a default body and
a kernel citation through ``@kernel_function`` (tests/user_files/user_hook.py); ``list hooks
--designs F`` lists it, every design (shipped or user) runs the default, a user design
overrides it, and the registry is undone with the others."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import dax_here

from daxcheck import registries
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.results import HOLDS, VIOLATED
from daxcheck.checker.runner import load_user_files
from daxcheck.checker.symbolic.engine import bmc
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS, Design, hooks
from daxcheck.spec.kernel import KERNEL_FUNCTIONS, KernelFunctionError, kernel_function
from daxcheck.spec.model import DaxModel

HOOKED = Path(__file__).parent / "user_files" / "user_hook.py"


@pytest.fixture
def hooked():
    with registries.isolated():
        load_user_files(str(HOOKED), None)
        yield


def _violated(design, engine=explore, **kw):
    r = engine(DaxModel(design), list(PROPERTIES.values()), **kw)
    return {n for n, v in r.verdicts.items() if v.status == VIOLATED}, r


def test_user_hook_is_listed_with_its_source_and_citation():
    code, out, _ = dax_here("list", "hooks", "--designs", str(HOOKED))
    assert code == 0
    row = " ".join(out.split())
    assert "vfs_fsync_range" in row and "fs/sync.c" in row and "sync_file_range(2)" in row
    code, out, _ = dax_here("list", "hooks")
    assert code == 0 and "sync_file_range(2)" not in " ".join(out.split())


def test_user_hook_undone_with_the_registries():
    with registries.isolated():
        load_user_files(str(HOOKED), None)
        assert "vfs_fsync_range" in KERNEL_FUNCTIONS and dict(hooks())["vfs_fsync_range"]
    assert "vfs_fsync_range" not in KERNEL_FUNCTIONS and "vfs_fsync_range" not in dict(hooks())
    with pytest.raises(AttributeError):
        DESIGNS["map-sync"].vfs_fsync_range  # noqa: B018


def test_shipped_design_gets_the_user_hook_default(hooked):
    shipped = DESIGNS["map-sync"]
    assert shipped.vfs_fsync_range.__func__ is KERNEL_FUNCTIONS["vfs_fsync_range"]
    d = shipped.variant(families=DESIGNS["user-hook-default"].families)
    violated, r = _violated(d, depth=4)
    assert violated == set() and all(v.status == HOLDS for v in r.verdicts.values())


def test_user_design_overrides_the_user_hook_in_both_engines(hooked):
    good, bad = DESIGNS["user-hook-default"], DESIGNS["user-hook-no-log-force"]
    assert _violated(good)[0] == set()
    violated, r = _violated(bad)
    assert violated == {"durable_after_sync"} == set(bad.expect_violated)
    assert r.verdicts["durable_after_sync"].depth == 2
    assert _violated(bad, bmc, depth=2)[0] == {"durable_after_sync"}


def test_user_hook_name_rules(hooked):
    with pytest.raises(KernelFunctionError, match="already modelled"):

        @kernel_function("fs/dax.c")
        def dax_insert_entry(D):  # noqa: ARG001
            """A second model of a shipped kernel function."""

    with pytest.raises(KernelFunctionError, match="taken by Design"):

        @kernel_function("fs/dax.c")
        def variant(D):  # noqa: ARG001
            """A name Design uses for something else."""

    with pytest.raises(KernelFunctionError, match="source file"):
        kernel_function("")
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        Design.nonesuch  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        DESIGNS["map-sync"].nonesuch  # noqa: B018

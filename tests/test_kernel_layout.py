"""spec/ mirrors the kernel (issue 24): every modelled kernel function is defined once, under
its kernel name, in the spec/kernel/ module of its kernel file, names that file, and is the
Design hook of the same name; spec/kernel/ knows nothing of designs or operations; no spec
module is over ~600 lines and no spec function over ~60."""

import ast
from pathlib import Path

from daxcheck.spec.designs import SETTINGS, Design, hooks, settings_doc
from daxcheck.spec.kernel import KERNEL_FUNCTIONS

SPEC = Path(__file__).resolve().parent.parent / "spec"
TREES = {p: ast.parse(p.read_text()) for p in sorted(SPEC.rglob("*.py"))}


def test_each_kernel_function_is_defined_once_and_is_its_hook():
    defs, every = {}, {}  # module-level functions; every def (split steps are methods)
    for p, tree in TREES.items():
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                defs.setdefault(node.name, []).append(p)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                every.setdefault(node.name, []).append(p)
    for name in ("dax_insert_entry", "dax_iomap_pte_fault", "xfs_reflink_end_cow"):
        assert len(every[name]) == 1, name  # the grep finds one function each
    listed = dict(hooks())
    for name in (
        "dax_insert_entry",
        "dax_iomap_pte_fault",
        "dax_fault_iter",
        "dax_fault_cow_page",
        "dax_load_hole",
        "dax_writeback_one",
        "dax_writeback_mapping_range",
        "dax_disassociate_entry",
        "xfs_reflink_end_cow",
        "xfs_log_force",
        "xlog_recover",
        "unmap_mapping_pages",
        "invalidate_inode_pages2_range",
    ):
        assert name in KERNEL_FUNCTIONS, name
    for name, fn in KERNEL_FUNCTIONS.items():
        assert [p.parent.name for p in defs[name]] == ["kernel"], (name, defs[name])
        assert getattr(Design, name) is fn
        src = fn.__kernel_source__
        assert src in fn.__doc__ and name.split("_")[-1] in fn.__doc__.lower(), name
        assert src in listed[name], name  # daxcheck list hooks shows the kernel file


def test_kernel_modules_import_no_design_or_operation():
    for p, tree in TREES.items():
        if p.parent.name != "kernel":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                mod = node.module or ""
                assert not mod.startswith(("designs", "ops", "actions", "model", "history")), (
                    p.name,
                    mod,
                )
            assert not (
                isinstance(node, (ast.Import, ast.ImportFrom))
                and node.col_offset > 0
                and p.name != "fsdax.py"
            ), (p.name, node.lineno)


def test_every_setting_is_declared_once_with_its_choices_and_doc():
    rows = settings_doc()
    assert [r[0] for r in rows] == list(SETTINGS) and len(rows) >= 25
    for name, default, choices, doc in rows:
        assert default in choices and len(doc) > 10, name

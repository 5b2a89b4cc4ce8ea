"""The argument builders of the tool commands: ``replay``, ``view``, ``graph``,
``kernel``, ``oracle``, ``query`` and ``list`` (the search commands are in :mod:`.parser`).
Each takes ``command(name, **kw) -> ArgumentParser`` (a new subcommand with the common
options) and adds its options; imports neither the spec nor an engine.
"""

from __future__ import annotations

from ..oracle.qemu.fixture import KERNELS
from .options import (
    BOUND_NAMES,
    TARGETS,
    add_sizes,
    add_user_files,
    crash_states_arg,
    positive_float,
    positive_int,
    rate_arg,
    setting_arg,
)


def replay_command(command) -> None:
    """``replay FILE``: the byte-level replay (or ``--on qemu-dax``) of a counterexample."""
    r = command("replay", help="re-execute a counterexample on the spec and on pmem bytes")
    r.add_argument("file", help="an *.itf.json counterexample")
    r.add_argument(
        "--design",
        metavar="D",
        help="replay the recorded actions on design D "
        "(at the recorded bounds) instead of the recorded design: does the "
        "counterexample still reproduce on a fixed design?",
    )
    add_user_files(r)
    r.add_argument(
        "--pmem", metavar="PATH", help="pmem image file to replay on (a copy unless --force)"
    )
    r.add_argument("--force", action="store_true", help="write to the --pmem file itself")
    r.add_argument(
        "--crash-states",
        type=crash_states_arg,
        default="all",
        metavar="all|N",
        help="crash images to check at each crash (default: all up to 4096)",
    )
    r.add_argument("--seed", type=positive_int, default=0, help="seed for sampled crash images")
    r.add_argument(
        "--on",
        choices=("pmem", "qemu-dax"),
        default="pmem",
        help="pmem: the byte-level replay (default); qemu-dax: run the actions as "
        "syscalls on a real kernel and compare it with the fixed and the broken "
        "design",
    )
    r.add_argument(
        "--kernel", choices=tuple(KERNELS), default="6.12", help="--on qemu-dax: the kernel booted"
    )
    r.add_argument(
        "--time-limit",
        type=positive_float,
        metavar="S",
        help="stop after S seconds (incomplete, exit 75)",
    )


def view_graph_commands(command) -> None:
    """``view FILE --html OUT`` and ``graph --design D --out FILE``."""
    v = command("view", help="draw a counterexample as one self-contained HTML page")
    v.add_argument("file", help="an *.itf.json counterexample")
    v.add_argument("--html", required=True, metavar="OUT", help="the HTML file to write")
    v.add_argument(
        "--force", action="store_true", help="overwrite OUT if it is not a daxcheck page"
    )

    gr = command("graph", help="export the explored state graph (small bounds) with networkx")
    gr.add_argument("--design", required=True, metavar="D")
    add_user_files(gr)
    gr.add_argument("--out", required=True, metavar="FILE", help="G.graphml or G.dot")
    gr.add_argument(
        "--max-states",
        type=positive_int,
        default=5000,
        metavar="N",
        help="refuse when the graph has more states (default 5000)",
    )
    gr.add_argument("--force", action="store_true", help="overwrite FILE")
    add_sizes(gr, BOUND_NAMES)


def oracle_commands(command) -> None:
    """``kernel setup`` (the Debian kernels the real-DAX oracle boots) and ``oracle`` (the
    differential test against XFS on a loop device or fsdax in QEMU)."""
    kernel_command(command)
    oracle_command(command)


def kernel_command(command) -> None:
    """``kernel setup [--kernel K|all]``."""
    kr = command("kernel", help="prepare the Debian kernels the real-DAX oracle boots (root)")
    kr.add_argument(
        "action",
        choices=("setup",),
        help="setup: download, unpack, build the initramfs (cached under ~/.cache/daxcheck/kernel)",
    )
    kr.add_argument("--kernel", choices=tuple(KERNELS) + ("all",), default="6.12")
    kr.add_argument(
        "--time-limit",
        type=positive_float,
        metavar="S",
        help="stop after S seconds (incomplete, exit 75)",
    )


def oracle_command(command) -> None:
    """``oracle [--target loop-xfs|qemu-dax] [--kernel K] [--runs N] ...``."""
    o = command(
        "oracle",
        help="differential test of the spec against a real kernel: XFS "
        "with reflink on a loop device, or the real fsdax path in QEMU (needs root)",
    )
    o.add_argument(
        "--target",
        choices=TARGETS,
        default="loop-xfs",
        help="loop-xfs (no DAX, fast; default) or qemu-dax (a Debian kernel on an "
        "emulated NVDIMM; run `daxcheck kernel setup` first)",
    )
    o.add_argument(
        "--kernel",
        choices=tuple(KERNELS),
        default="6.12",
        help="qemu-dax: the kernel booted and the spec design xfs-KERNEL compared",
    )
    o.add_argument("--runs", type=positive_int, default=200, help="generated sequences")
    o.add_argument("--seed", type=positive_int, default=0)
    o.add_argument("--max-ops", type=positive_int, default=10, help="operations per sequence")
    o.add_argument(
        "--crash-rate",
        type=rate_arg,
        default=0.1,
        metavar="R",
        help="qemu-dax: share of sequences ending in a crash (default 0.1)",
    )
    o.add_argument(
        "--kill-share",
        type=rate_arg,
        default=0.2,
        metavar="R",
        help="qemu-dax: share of crashes that kill QEMU and reboot (the others "
        "shut XFS down and remount; default 0.2)",
    )
    o.add_argument(
        "--setting",
        type=setting_arg,
        action="append",
        default=[],
        metavar="K=V",
        help="qemu-dax: change a setting of the spec design (a hypothesis to test "
        "against the kernel, e.g. sync_fault=never); repeatable",
    )
    o.add_argument(
        "--time-limit",
        type=positive_float,
        metavar="S",
        help="stop after S seconds, the loop device unmounted and the guest shut "
        "down (incomplete, exit 75)",
    )


def query_list_commands(command) -> None:
    """``query [NAME ...]`` (Z3's byte-offset questions) and ``list WHAT``."""
    q = command("query", help="byte-offset questions answered by Z3")
    q.add_argument("name", nargs="*", help="queries to run (default: all)")
    q.add_argument("--time-limit", type=positive_float, default=30.0, metavar="S")

    ls = command("list", help="list designs, properties, lemmas, actions, hooks or queries")
    ls.add_argument(
        "what", choices=("designs", "properties", "lemmas", "actions", "hooks", "queries")
    )
    ls.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="actions: document every argument (name, meaning, units); designs: "
        "the citation (commit, thread, xfstest) and the scope",
    )
    add_user_files(ls)

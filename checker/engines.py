"""The engine registry, filled: every search strategy of daxcheck by name.

``engines.get("bfs").check(EngineOptions(model, props, ...))`` runs one; the interface,
the options and the registry functions are in :mod:`.engine`.  Registered here:

=============  ==========================================================================
``bfs``        batched explicit BFS (:class:`.explicit.explore.BfsEngine`), the default
``reference``  per-state explicit BFS, the tests' oracle (:class:`.explicit.explore.ReferenceEngine`)
``lipton``     explicit BFS over atomic blocks, ``check --reduce lipton`` (:class:`.explicit.reduction.LiptonEngine`)
``bmc``        Z3 bounded model checking (:class:`.symbolic.proof.BmcEngine`)
``prove``      Z3 k-induction with lemmas (:class:`.symbolic.proof.ProveEngine`)
``simulate``   random walks, shrunk (:class:`.simulate.SimulateEngine`)
``distributed`` explicit BFS over Ray workers (:class:`.distributed.bfs.DistributedEngine`)
``swarm``      random walks over Ray tasks (:class:`.distributed.swarm.SwarmEngine`)
=============  ==========================================================================

The Z3 engines are loaded on first use (importing Z3 costs a third of a second); Ray is
imported only when a distributed run starts a session.
"""

from __future__ import annotations

import importlib

from .distributed.bfs import DistributedEngine
from .distributed.swarm import SwarmEngine
from .engine import ENGINES, Engine, EngineOptions, get, register, run_engine  # noqa: F401
from .explicit.explore import BfsEngine, ReferenceEngine
from .explicit.reduction import LiptonEngine
from .results import CheckResult, Stats
from .simulate import SimulateEngine


class LazyEngine:
    """An engine whose module is imported on its first ``check`` (an optional or slow
    extra: Z3): ``name``, ``module`` (dotted), ``cls`` (the engine class's name there)."""

    stats_type = Stats

    def __init__(self, name: str, module: str, cls: str):
        self.name, self.module, self.cls = name, module, cls
        self.engine = None

    def load(self) -> Engine:
        """The engine instance (its module imported now if it was not)."""
        if self.engine is None:
            self.engine = getattr(importlib.import_module(self.module), self.cls)()
        return self.engine

    def check(self, options: EngineOptions) -> CheckResult:
        return self.load().check(options)


for _engine in (
    BfsEngine(),
    ReferenceEngine(),
    LiptonEngine(),
    LazyEngine("bmc", "daxcheck.checker.symbolic.proof", "BmcEngine"),
    LazyEngine("prove", "daxcheck.checker.symbolic.proof", "ProveEngine"),
    SimulateEngine(),
    DistributedEngine(),
    SwarmEngine(),
):
    register(_engine)

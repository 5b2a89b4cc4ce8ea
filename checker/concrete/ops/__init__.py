"""The concrete executor's per-action handlers, one module per family of ``spec/ops/``.

Each module holds one mixin of :class:`~daxcheck.checker.concrete.executor.ConcreteExecutor`
with a ``_do_<action name>`` method per action of that family, so ``spec/ops/X.py`` (what an
action does to the abstract state) and ``checker/concrete/ops/X.py`` (what it does to the
bytes of a pmem buffer) can be read side by side.
"""

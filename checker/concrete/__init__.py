"""Concrete replay: a counterexample re-executed on a persistent-memory byte buffer.

``pmem.py`` is the file-backed pmem buffer with a 64-byte-line CPU-cache model and crash
images; ``executor.py`` runs a trace's actions on it, checks the abstraction against the
spec's states after every step (refinement) and reports byte-level symptoms.
"""

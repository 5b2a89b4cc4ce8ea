"""The Z3 engine: every use of Z3 in daxcheck.

``smt.py`` is the only module that imports ``z3`` (backend of the vocabulary, symbolic
states, a three-valued solver wrapper); ``unroll.py`` evaluates the spec's transitions and
properties over Z3 terms and unrolls them; ``engine.py`` runs bounded model checking and
k-induction (Houdini over properties and lemmas) on them; ``proof.py`` puts both behind the
one engine interface (``bmc``, ``prove``) and holds the proof loop of ``daxcheck prove``;
``queries.py`` asks byte-offset questions with 64-bit bit-vectors.
"""

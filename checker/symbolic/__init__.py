"""The Z3 engine: every use of Z3 in daxcheck.

``smt.py`` is the only module that imports ``z3`` (backend of the vocabulary, symbolic
states, a three-valued solver wrapper); ``engine.py`` unrolls the spec's transitions for
bounded model checking and k-induction (Houdini over properties and lemmas); ``queries.py``
asks byte-offset questions with 64-bit bit-vectors.
"""

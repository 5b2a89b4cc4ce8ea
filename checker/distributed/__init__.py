"""Distributed exploration on Ray (optional extra ``daxcheck[distributed]``).

``session.py`` starts or joins a Ray session (local with N CPUs, or ``--ray-address``) and
always shuts down what it started; ``spec.py`` describes a model by name so that workers
rebuild it in their own processes; ``workers.py`` the partition workers (Ray actors) and
their pool; ``bfs.py`` the driver of the hash-partitioned level-synchronous BFS
(PReach's scheme) over the one-process batched explorer's machinery, with the same
states, verdicts, depths and traces; ``swarm.py`` random walks split over workers (swarm
verification).  Nothing here imports Ray at module level.
"""

"""The naive baseline of bench/vs_spin.py: plain-Python BFS of the shared toy model
(tuples in a set), copied unchanged from ../shared/bench/toy_dax.py.  Same model as the
Promela that vs_spin.py generates and as bench/toy_model.py (daxcheck).

Usage: python bench/toy_naive.py F P B"""

import sys
import time
from collections import deque

F, P, B = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])


# state: (ext[F*P] block or -1, ent[F*P] 0/1 dax entry present, refc[B], share[B])
def init():
    return (tuple([-1] * (F * P)), tuple([0] * (F * P)), tuple([0] * B), tuple([0] * B))


def succ(s):
    ext, ent, refc, share = s
    for f in range(F):
        for p in range(P):
            i = f * P + p
            b = ext[i]
            if b < 0:  # alloc
                for nb in range(B):
                    if refc[nb] == 0:
                        e = list(ext)
                        e[i] = nb
                        r = list(refc)
                        r[nb] = 1
                        yield (tuple(e), ent, tuple(r), share)
                        break
            else:
                if not ent[i]:  # fault
                    n = list(ent)
                    n[i] = 1
                    sh = list(share)
                    sh[b] += 1
                    yield (ext, tuple(n), refc, tuple(sh))
                else:  # unmap entry
                    n = list(ent)
                    n[i] = 0
                    sh = list(share)
                    sh[b] -= 1
                    yield (ext, tuple(n), refc, tuple(sh))
                if not ent[i]:  # punch
                    e = list(ext)
                    e[i] = -1
                    r = list(refc)
                    r[b] -= 1
                    yield (tuple(e), ent, tuple(r), share)
                if refc[b] > 1 and not ent[i]:  # cow write: unshare
                    for nb in range(B):
                        if refc[nb] == 0:
                            e = list(ext)
                            e[i] = nb
                            r = list(refc)
                            r[nb] = 1
                            r[b] -= 1
                            yield (tuple(e), ent, tuple(r), share)
                            break
    for a in range(F):  # reflink a -> d (whole file) when d empty
        for d in range(F):
            if (
                a != d
                and all(ext[d * P + p] < 0 for p in range(P))
                and any(ext[a * P + p] >= 0 for p in range(P))
            ):
                e = list(ext)
                r = list(refc)
                for p in range(P):
                    e[d * P + p] = ext[a * P + p]
                    if ext[a * P + p] >= 0:
                        r[ext[a * P + p]] += 1
                yield (tuple(e), ent, tuple(r), share)


def bfs():
    s0 = init()
    seen = {s0}
    q = deque([s0])
    trans = 0
    while q:
        s = q.popleft()
        for t in succ(s):
            trans += 1
            if t not in seen:
                seen.add(t)
                q.append(t)
    return len(seen), trans


t = time.perf_counter()
n, tr = bfs()
dt = time.perf_counter() - t
print(f"states={n} transitions={tr} secs={dt:.3f} states/s={n / dt:.0f}")

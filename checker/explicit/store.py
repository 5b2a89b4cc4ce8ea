"""The state store: every distinct state seen, with a parent pointer for shortest traces.

States are ``bytes``; the store keeps one reference per state (``states``), a dict from
state to id, and per id the parent id and the index of the action that produced it
(stateright keeps fingerprint -> parent fingerprint; we keep the state itself so a trace
is rebuilt without re-executing, at about 120 bytes of state + ~100 bytes of dict entry
per state).
"""

from __future__ import annotations

from array import array


class StateStore:
    """Distinct states with BFS parent pointers.

    ``add(s, parent, action)`` returns the new id, or -1 if ``s`` was seen before.
    ``path(id)`` returns ``[(action index or -1, state), ...]`` from an initial state.
    """

    __slots__ = ("ids", "states", "parent", "via")

    def __init__(self):
        self.ids: dict[bytes, int] = {}
        self.states: list[bytes] = []
        self.parent = array("q")
        self.via = array("l")

    def __len__(self) -> int:
        return len(self.states)

    def add(self, s: bytes, parent: int, action: int) -> int:
        ids = self.ids
        if s in ids:
            return -1
        n = len(self.states)
        ids[s] = n
        self.states.append(s)
        self.parent.append(parent)
        self.via.append(action)
        return n

    def path(self, sid: int) -> list[tuple[int, bytes]]:
        out = []
        while sid >= 0:
            out.append((self.via[sid], self.states[sid]))
            sid = self.parent[sid]
        out.reverse()
        return out

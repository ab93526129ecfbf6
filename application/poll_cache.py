"""A per-process cache of polls with their choices, the read path's one database query.

Every change to a poll is announced through ``live.results_changed`` (votes, close, edit,
delete), which reaches every process; each drops its copy at once. A short lifetime bounds
staleness should an announcement be lost (Redis down). A read that started before a change
never stores its older result: a generation number per poll tells.
"""

from __future__ import annotations

import time

from models.db import Row

LIFETIME_SECONDS = 2.0


class PollCache:
    def __init__(self, lifetime: float = LIFETIME_SECONDS) -> None:
        self.lifetime = lifetime
        self.entries: dict[int, tuple[float, Row]] = {}
        self.generations: dict[int, int] = {}

    def generation(self, question_id: int) -> int:
        return self.generations.get(question_id, 0)

    def get(self, question_id: int) -> Row | None:
        entry = self.entries.get(question_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return dict(entry[1])  # a copy: callers may add keys

    def put(self, question_id: int, generation: int, row: Row) -> None:
        if generation == self.generation(question_id):
            self.entries[question_id] = (time.monotonic() + self.lifetime, row)

    def drop(self, question_id: int) -> None:
        self.entries.pop(question_id, None)
        self.generations[question_id] = self.generation(question_id) + 1

    def clear(self) -> None:
        for question_id in list(self.entries):
            self.drop(question_id)

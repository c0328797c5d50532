"""Who may do what: an API key's scope. Scopes nest: admin includes run, run includes read.

- read: every GET (runs, artifacts, recordings, queue, dead letter, stats, events, metrics);
- run: queue, cancel and retry runs; create, delete, run and quarantine recordings;
- admin: pause and resume the queue, retry dead letters, keys, schedules, webhooks, retention.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    RUN = "run"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Scope) -> bool:
        """True when a key of this scope may do what `needed` guards."""
        return self.rank >= needed.rank


_RANKS = {Scope.READ: 0, Scope.RUN: 1, Scope.ADMIN: 2}

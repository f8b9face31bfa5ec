"""Time as the database server tells it, for heartbeats that several computers compare.

Claims and round requests expire when their holder stops renewing them. Each desktop's clock
may be off by minutes, so a heartbeat is written with the server's clock (:data:`NOW`, the same
ISO text on SQLite and PostgreSQL) and its age is measured against the server's clock too.
"""

from __future__ import annotations

from datetime import datetime

from halgui.core.postgres_sql import NOW_SQLITE as NOW

__all__ = ["NOW", "age_s"]


def age_s(then: str | None, now: str) -> float:
    """Seconds from ``then`` to ``now`` (both as :data:`NOW` writes them); inf for None."""
    if then is None:
        return float("inf")
    return (datetime.fromisoformat(now) - datetime.fromisoformat(then)).total_seconds()

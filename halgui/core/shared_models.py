"""Round checkpoints a team shares: kept in a shared project's database next to their round.

The computer that trains a round writes its checkpoint in its own folder, as for a folder
project; on a shared project the file's bytes are also stored in the database, in the
transaction that records the round, so every member's desktop can show the model's boxes: the
first time a desktop needs a round's model it copies it into its own folder (rounds of a folder
project need neither).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from halgui.core.project import Project
from halgui.core.records import RoundRecord

__all__ = ["fetch", "store"]


def store(conn: Any, round_id: int, checkpoint: Path) -> None:
    """Keep ``checkpoint``'s bytes with round ``round_id`` (inside the round's transaction)."""
    conn.execute("INSERT INTO round_models (round_id, data) VALUES (?, ?)",
                 (round_id, checkpoint.read_bytes()))


def fetch(project: Project, record: RoundRecord) -> bool:
    """Copy ``record``'s checkpoint from a shared project's database to where the record says
    it is on this computer; False for a folder project, or when the database holds none."""
    if project.url is None or record.checkpoint is None:
        return False
    rows = project.query("SELECT m.data FROM round_models m JOIN rounds r ON r.id = m.round_id"
                         " WHERE r.number = ?", (record.number,))
    if not rows:
        return False
    path = record.checkpoint
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_bytes(bytes(rows[0][0]))
    os.replace(part, path)  # whole or absent: a reader never sees half a checkpoint
    return True

"""raw.landing_manifest's batches past landing: which exist and in what state, and their status as the
load and the raw gate move it (landed → loaded → accepted, or rejected with its reason).

(A batch's row is written by extract.landing, which lands it, and read there for what is pending.)"""

from __future__ import annotations

from pathlib import Path

import psycopg

from greencert.extract.landing import Batch


def batches_by_id(conninfo: str, batch_ids: list[str]) -> list[Batch]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            """select batch_id, feed, source_file, landed_path, sha256 from raw.landing_manifest
               where batch_id = any(%s) order by landed_at, batch_id""",
            (batch_ids,),
        ).fetchall()
    return [Batch(r[0], r[1], r[2], Path(r[3]), r[4]) for r in rows]


def mark(conninfo: str, batch_id: str, status: str, reason: str | None = None) -> None:
    """A batch's status (and reason) in a transaction of its own: a refusal, kept whatever else fails."""
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            "update raw.landing_manifest set status = %s, reason = %s where batch_id = %s", (status, reason, batch_id)
        )


def mark_loaded(conn: psycopg.Connection, batch_id: str, rows: int) -> None:
    """In the load's transaction, with the rows it copied: loaded, or nothing."""
    conn.execute(
        "update raw.landing_manifest set status = 'loaded', rows = %s, loaded_at = now() where batch_id = %s",
        (rows, batch_id),
    )


def mark_accepted(conn: psycopg.Connection, batch_id: str) -> None:
    """In the raw gate's transaction, with the watermark it moves: accepted, or nothing."""
    conn.execute("update raw.landing_manifest set status = 'accepted', reason = null where batch_id = %s", (batch_id,))

"""Reading raw.landing_manifest: which batches exist and in what state."""

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

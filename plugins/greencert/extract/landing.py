"""Landing, shared by both connectors: an immutable copy of what the source sent, once, by hash.

A delivery (a file from the drop folder, or the records of one API fetch written as CSV) is kept
as landing/<feed>/<logical date>/<sha256><suffix>, read-only, and recorded in
raw.landing_manifest. The same content twice is a no-op; a change is a new batch. Landing is
idempotent, so a rerun (or a run killed half-way) is safe.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg


@dataclass(frozen=True)
class Batch:
    batch_id: str
    feed: str
    source_file: str
    landed_path: Path
    sha256: str


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def batch_id_for(feed: str, sha256: str) -> str:
    # deterministic, so the same content always becomes the same batch
    return f"{feed}-{sha256[:16]}"


def private_dir(path: Path, root: Path) -> Path:
    """`path` and every folder between it and `root` (included), created if missing, 0700."""
    path.mkdir(parents=True, exist_ok=True)
    for p in (path, *path.relative_to(root).parents):
        folder = root / p if p != path else p
        if folder.stat().st_mode & 0o777 != 0o700:
            os.chmod(folder, 0o700)
    return path


def land(
    conn: psycopg.Connection,
    feed: str,
    path: Path,
    source_file: str,
    logical_date: date,
    landing: Path,
    digest: str | None = None,
    move: bool = False,
) -> str | None:
    """Land one delivery; its batch id, or None if the same content was landed before. `move`:
    `path` is a private copy of ours, renamed into place rather than copied.

    The manifest row is written on `conn` and commits with the caller's transaction. Landed files
    are readable by the service's user only (0400, in 0700 folders)."""
    digest = digest or sha256_of(path)
    if conn.execute("select 1 from raw.landing_manifest where feed = %s and sha256 = %s", (feed, digest)).fetchone():
        return None
    target = landing / feed / logical_date.isoformat() / f"{digest}{path.suffix.lower()}"
    if not target.exists():
        private_dir(target.parent, landing)
        tmp = target.with_suffix(target.suffix + ".part")
        if move:
            path.replace(tmp)
        else:
            shutil.copyfile(path, tmp)
        os.chmod(tmp, 0o400)
        tmp.replace(target)
    batch_id = batch_id_for(feed, digest)
    conn.execute(
        """insert into raw.landing_manifest
           (batch_id, feed, source_file, landed_path, sha256, size_bytes, logical_date)
           values (%s, %s, %s, %s, %s, %s, %s) on conflict (feed, sha256) do nothing""",
        (batch_id, feed, source_file, str(target), digest, target.stat().st_size, logical_date),
    )
    return batch_id


def pending(conninfo: str, feed: str) -> list[Batch]:
    """The feed's batches still to load: landed, or loaded but never gated (a run killed between
    the two is picked up by the next one)."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            """select batch_id, feed, source_file, landed_path, sha256 from raw.landing_manifest
               where feed = %s and status in ('landed', 'loaded') order by landed_at, batch_id""",
            (feed,),
        ).fetchall()
    return [Batch(r[0], r[1], r[2], Path(r[3]), r[4]) for r in rows]

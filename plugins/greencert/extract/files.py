"""The `files` connector: poll a drop folder, land each new file once, by content hash.

A file is landed as landing/<feed>/<logical date>/<sha256><suffix>, read-only, and recorded in
raw.landing_manifest. A re-sent identical file is a no-op; a changed file under the same name
is a new batch. Landing is idempotent, so a rerun (or a run killed half-way) is safe.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

from greencert import settings
from greencert.feeds import Feed


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
    # deterministic, so the same file always becomes the same batch
    return f"{feed}-{sha256[:16]}"


def land_new_files(
    feed: Feed,
    conninfo: str,
    logical_date: date,
    dropbox: Path | None = None,
    landing: Path = settings.LANDING,
) -> list[Batch]:
    """Land every file of the drop folder not seen before; return the batches still to load (a batch
    loaded but never gated — a run killed between the two — is loaded again)."""
    dropbox = dropbox or settings.dropbox(feed.name)
    with psycopg.connect(conninfo) as conn:
        paths = {p for pattern in feed.file_patterns for p in dropbox.glob(pattern)} if dropbox.exists() else set()
        for path in sorted(paths):
            digest = sha256_of(path)
            seen = conn.execute(
                "select 1 from raw.landing_manifest where feed = %s and sha256 = %s", (feed.name, digest)
            ).fetchone()
            if seen:
                continue
            target = landing / feed.name / logical_date.isoformat() / f"{digest}{path.suffix.lower()}"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(target.suffix + ".part")
                shutil.copyfile(path, tmp)
                os.chmod(tmp, 0o444)
                tmp.replace(target)
            conn.execute(
                """insert into raw.landing_manifest
                   (batch_id, feed, source_file, landed_path, sha256, size_bytes, logical_date)
                   values (%s, %s, %s, %s, %s, %s, %s) on conflict (feed, sha256) do nothing""",
                (batch_id_for(feed.name, digest), feed.name, path.name, str(target), digest,
                 target.stat().st_size, logical_date),
            )
        rows = conn.execute(
            """select batch_id, feed, source_file, landed_path, sha256 from raw.landing_manifest
               where feed = %s and status in ('landed', 'loaded') order by landed_at, batch_id""",
            (feed.name,),
        ).fetchall()
    return [Batch(r[0], r[1], r[2], Path(r[3]), r[4]) for r in rows]

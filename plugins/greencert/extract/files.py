"""The `files` connector: poll a drop folder, land each new file once, by content hash.

Every feed's drop folder is polled, whatever its connector: for an `http` feed it is the
fallback the contracts allow (a file sent by hand when the API is down).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg

from greencert import settings
from greencert.extract.landing import Batch, land, pending
from greencert.feeds import Feed

__all__ = ["Batch", "land_new_files"]


def land_new_files(
    feed: Feed,
    conninfo: str,
    logical_date: date,
    dropbox: Path | None = None,
    landing: Path = settings.LANDING,
) -> list[Batch]:
    """Land every file of the drop folder not seen before; return the feed's batches still to load."""
    dropbox = dropbox or settings.dropbox(feed.name)
    paths = {p for pattern in feed.file_patterns for p in dropbox.glob(pattern)} if dropbox.exists() else set()
    with psycopg.connect(conninfo) as conn:
        for path in sorted(paths):
            land(conn, feed.name, path, path.name, logical_date, landing)
            conn.commit()  # each file on its own: a later failure keeps the earlier ones landed
    return pending(conninfo, feed.name)

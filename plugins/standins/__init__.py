"""Deterministic sample data for the feeds, written exactly to their contracts (Chinese headers).

One module per feed of the registry, each with `write(as_of, out_dir, seed)` returning the path
it wrote (or the paths, for feeds that arrive as several files). `api_server.py` serves the
`http` feeds' data through the sources' API contract.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date
from pathlib import Path

from greencert import feeds, settings


def write_all(
    as_of: date,
    seed: int = 2022,
    dropbox: Path = settings.DROPBOX,
    api_store: Path = settings.API_STORE,
    on_feed: Callable[[int, str], None] | None = None,
) -> list[Path]:
    """Every feed's data for `as_of` (byte-identical for the same inputs): a `files` feed's files
    into its drop folder; an `http` feed's records into the stand-in API's store
    (standins/api_server.py), replacing what it held, since a source's API serves its current state.
    `on_feed(i, name)` is called as the i-th feed (from 0) starts, for progress."""
    paths: list[Path] = []
    for i, (name, feed) in enumerate(feeds.registry().items()):
        if on_feed:
            on_feed(i, name)
        out = (api_store if feed.connector == "http" else dropbox) / name
        written = importlib.import_module(f"standins.{name}").write(as_of, out, seed)
        written = written if isinstance(written, list) else [written]
        if feed.connector == "http":
            for old in set(out.glob("*")) - set(written):
                old.unlink()
        paths.extend(written)
    return paths

"""Deterministic sample data for the feeds, written exactly to their contracts (Chinese headers).

One module per feed of the registry, each with `write(as_of, out_dir, seed)` returning the path
it wrote (or the paths, for feeds that arrive as several files).
"""

from __future__ import annotations

import importlib
from datetime import date
from pathlib import Path

from greencert import feeds, settings


def write_all(as_of: date, seed: int = 2022, dropbox: Path = settings.DROPBOX) -> list[Path]:
    """Every feed's files for `as_of` into its drop folder (byte-identical for the same inputs)."""
    paths: list[Path] = []
    for name in feeds.registry():
        written = importlib.import_module(f"greencert.generate.{name}").write(as_of, dropbox / name, seed)
        paths.extend(written if isinstance(written, list) else [written])
    return paths

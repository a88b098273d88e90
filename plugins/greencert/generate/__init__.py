"""Deterministic sample data for the feeds, written exactly to their contracts (Chinese headers).

One module per feed of the registry, each with `write(as_of, out_dir, seed) -> Path`.
"""

from __future__ import annotations

import importlib
from datetime import date
from pathlib import Path

from greencert import feeds, settings


def write_all(as_of: date, seed: int = 2022, dropbox: Path = settings.DROPBOX) -> list[Path]:
    """Every feed's file for `as_of` into its drop folder (byte-identical for the same inputs)."""
    return [importlib.import_module(f"greencert.generate.{name}").write(as_of, dropbox / name, seed)
            for name in feeds.registry()]

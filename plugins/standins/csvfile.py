"""Write a sample CSV atomically: readers (the landing step) never see a half-written file."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path


def save(
    path: Path, headers: list[str], rows: Iterable[list[str]], *, encoding: str = "utf-8", lineterminator: str = "\n"
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    with tmp.open("w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh, lineterminator=lineterminator)
        writer.writerow(headers)
        writer.writerows(rows)
    tmp.replace(path)
    return path

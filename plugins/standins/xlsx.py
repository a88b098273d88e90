"""Write XLSX files byte-for-byte reproducibly (the same list for the same date = the same hash).

openpyxl stamps the save time into docProps/core.xml and into every zip entry; a re-generated
file would then look like a new batch to the content-hash landing.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def save(workbook: Any, path: Path, stamp: str) -> Path:
    """Save `workbook` to `path` atomically, with `stamp` (ISO datetime) as its created/modified time."""
    buf = io.BytesIO()
    workbook.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), data)
            dst.writestr(zipfile.ZipInfo(info.filename, FIXED_ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(out.getvalue())
    tmp.replace(path)
    return path

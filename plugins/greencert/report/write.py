"""Write a snapshot date's report folder: var/reports/<date>/report.html (settings.REPORTS) and report.xlsx.

The folder is written beside its final place and renamed over it, so a rerun replaces a date's
report whole and a killed run leaves the previous one; other dates' folders are never touched.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from greencert import settings
from greencert.report import data as report_data
from greencert.report import html, workbook


@dataclass(frozen=True)
class ReportFiles:
    folder: Path
    html: Path
    xlsx: Path

    def as_dict(self) -> dict[str, str]:
        return {"folder": str(self.folder), "html": str(self.html), "xlsx": str(self.xlsx)}


def write_report(conninfo: str, as_of: date, root: Path | None = None) -> ReportFiles:
    root = root or settings.REPORTS
    root.mkdir(parents=True, exist_ok=True)
    data = report_data.load(conninfo, as_of)
    final = root / as_of.isoformat()
    tmp = Path(tempfile.mkdtemp(prefix=f".{as_of.isoformat()}-", dir=root))
    try:
        (tmp / "report.html").write_text(html.render(data), encoding="utf-8")
        workbook.write(data, tmp / "report.xlsx")
        tmp.chmod(0o755)
        if final.exists():
            old = root / f".{as_of.isoformat()}-replaced"
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ReportFiles(final, final / "report.html", final / "report.xlsx")

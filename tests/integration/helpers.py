"""Helpers for the integration tests: hand-made certificate files, the sample population, a page
rendered in headless Chromium."""

from __future__ import annotations

import csv
import os
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from greencert import feeds, warehouse
from greencert.warehouse import roles

AS_OF = date(2025, 6, 30)

HEADERS = [c.headers[0] for c in feeds.get("certificates").columns]


def cert(cert_no: str, **fields: str) -> dict[str, str]:
    row = {
        "证书编号": cert_no,
        "证书状态": "有效",
        "认证类别": "管理体系认证",
        "认证项目": "环境管理体系认证",
        "组织名称": f"苏州{cert_no}有限公司",
        "认证机构名称": "中国质量认证中心",
        "认证机构批准号": "CNCA-R-2002-001",
        "颁证日期": "2024-01-10",
        "证书到期日期": "2027-01-09",
        "是否是子证书": "否",
        "更新时间": "2024-01-10 09:00:00",
    }
    row.update(fields)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], headers: list[str] = HEADERS, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.DictWriter(fh, fieldnames=headers, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@cache
def population(seed: int = 2022):
    from standins import certificates

    return certificates.build_population(seed)


def admin_url_for(database: str) -> str:
    return roles._swap_db(warehouse.admin_url(), database)


def write_xlsx(
    path: Path,
    rows: list[dict[str, str]],
    headers: list[str] = HEADERS,
    title_rows: tuple[str, ...] = (),
    total_row: bool = False,
) -> Path:
    """An XLSX list as the provincial offices publish them: title rows, header, rows, 合计."""
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Sheet1")
    for title in title_rows:
        ws.append([title])
    ws.append(headers)
    for row in rows:
        ws.append([row.get(h, "") for h in headers])
    if total_row:
        ws.append(["合计", f"{len(rows)}项"])
    wb.save(path)
    return path


CHROMIUM = "/usr/bin/chromium"  # Debian's package `chromium` (.ci/run installs it)

# appended to a copy of the page: what the browser laid out, written into the DOM for --dump-dom
_MEASURE = """<script>
window.addEventListener('load', () => {
  const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
    const box = svg.getBoundingClientRect();
    return {id: svg.id, width: box.width, height: box.height,
            marks: svg.querySelectorAll('path, rect, use, polyline, line, image').length,
            texts: svg.querySelectorAll('g[id^="text_"]').length};  // a label: a group of glyph paths
  });
  const rows = id => document.querySelectorAll('#' + id + ' tbody tr').length;
  // every character of the page's text drawn in its font stack, against a private-use character no
  // font has: the same ink is the missing-glyph box (tofu)
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 48;
  const g = canvas.getContext('2d', {willReadFrequently: true});
  g.font = '32px ' + getComputedStyle(document.body).fontFamily;
  const ink = ch => {
    g.clearRect(0, 0, 48, 48); g.fillText(ch, 4, 38);
    const d = g.getImageData(0, 0, 48, 48).data; let h = 0;
    for (let i = 3; i < d.length; i += 4) h = (Math.imul(h, 31) + d[i]) | 0;
    return h;
  };
  const box = ink('\ue000');
  const chars = [...new Set(document.body.innerText.replace(/\\s/g, ''))];
  const missing = chars.filter(ch => ink(ch) === box);
  const out = document.createElement('pre');
  out.id = 'greencert-measure';
  out.textContent = JSON.stringify({charts, targets: rows('targets'), regions: rows('regions'),
                                    quality: rows('quality'), bars: document.querySelectorAll('.bar .fill').length,
                                    font: g.font, chars: chars.length, missing_glyphs: missing});
  document.body.appendChild(out);
});
</script>"""


ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"  # screenshots, kept after the run


def render_in_chromium(page: Path, tmp: Path, screenshot: str | None = None) -> dict:
    """Open a copy of `page` in headless Chromium and return what it laid out: each SVG chart's box
    and number of marks, the rows of the page's tables, and the characters of its text drawn as the
    missing-glyph box; with `screenshot`, a PNG of the page as well (var/test-artifacts/<name>)."""
    import json
    import re
    import subprocess

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise AssertionError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    copy = tmp / page.name
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    # flags: a closed network and root (CI) — no sandbox, no background fetches, a throwaway profile
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        "--window-size=1200,3000",
        "--virtual-time-budget=5000",
    ]
    out = subprocess.run(
        [*flags, "--dump-dom", copy.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    if screenshot:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        shot = [*flags, "--hide-scrollbars", f"--screenshot={ARTEFACTS / screenshot}", page.as_uri()]
        subprocess.run(shot, capture_output=True, timeout=120, check=True)
        assert (ARTEFACTS / screenshot).stat().st_size > 10_000
    found = re.search(r'<pre id="greencert-measure">(.*?)</pre>', out, re.S)
    assert found, f"the page did not finish loading in Chromium:\n{out[:2000]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))

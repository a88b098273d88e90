"""No bad input stops a feed: a file that cannot be read is refused with its name and the reason,
and the feed's other batches load in the same run; every read of a file is bounded.

The wedge this guards against: an XLSX number cell holding `1,200` made openpyxl raise ValueError,
the load task crashed, the batch stayed `landed` and was retried every run, and the good files
after it never loaded. Here the ingest DAG's own task code runs (tests/reliability/dagrun.py).
"""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import psycopg
import pytest

from greencert import feeds, settings
from greencert.extract.files import land_new_files
from greencert.load import copy_batch
from greencert.load.copy_batch import BatchRejected, load_batch

from ..integration.helpers import cert, write_csv, write_xlsx
from .dagrun import run_ingest
from .hostile import Source

CERTS = feeds.get("certificates")
D = date(2025, 6, 30)


@pytest.fixture
def urls(fresh_database) -> dict[str, str]:
    return fresh_database("greencert_unreadable")


def patch_zip(path: Path, member: str, old: bytes, new: bytes, extra: dict[str, bytes] | None = None) -> Path:
    """Rewrite one member of a workbook (a cell as no spreadsheet writes it), or add members."""
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    assert old in members[member]
    members[member] = members[member].replace(old, new, 1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in {**members, **(extra or {})}.items():
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())
    return path


def comma_number_xlsx(path: Path) -> Path:
    """A certificates workbook whose 覆盖范围 cell of row 3 is a number cell holding `1,200`."""
    rows = [cert("X1"), cert("X2", 覆盖范围=1200), cert("X3")]  # type: ignore[arg-type]
    write_xlsx(path, rows)
    return patch_zip(path, "xl/worksheets/sheet1.xml", b"<v>1200</v>", b"<v>1,200</v>")


def manifest(urls) -> dict[str, tuple[str, str, str | None]]:
    with psycopg.connect(urls["loader"]) as conn:
        return {
            f: (b, s, r)
            for b, f, s, r in conn.execute("select batch_id, source_file, status, reason from raw.landing_manifest")
        }


def raw_keys(urls) -> set[str]:
    with psycopg.connect(urls["loader"]) as conn:
        return {k for (k,) in conn.execute("select cert_no from raw.certificates")}


def test_an_unreadable_workbook_is_refused_and_the_good_files_load_in_the_same_run(urls, tmp_path, monkeypatch) -> None:
    drop = tmp_path / "drop"
    write_csv(drop / "a_good.csv", [cert("A1"), cert("A2")])
    comma_number_xlsx(drop / "b_comma.xlsx")
    write_csv(drop / "c_good.csv", [cert("C1")])
    with Source([]) as api:  # the API has nothing new: only the drop folder's files
        run = run_ingest(CERTS, urls, monkeypatch, drop, tmp_path / "landing", D, api.base)
    got = manifest(urls)
    assert got["a_good.csv"][1] == got["c_good.csv"][1] == "accepted"
    assert got["b_comma.xlsx"][1:] == (
        "rejected",
        "b_comma.xlsx: row 3 of the workbook cannot be read (ValueError: invalid literal for int() with "
        "base 10: '1,200'): a cell whose content does not match its type? the file is refused",
    )
    assert raw_keys(urls) == {"A1", "A2", "C1"}
    assert run.failure is not None and "b_comma.xlsx: row 3 of the workbook cannot be read" in str(run.failure)
    # the next run: nothing to retry, nothing wedged, the run is green
    with Source([]) as api:
        again = run_ingest(CERTS, urls, monkeypatch, drop, tmp_path / "landing", D, api.base)
    assert again.landed["batch_ids"] == [] and again.failure is None


def land_one(urls, tmp_path: Path, name: str, make) -> copy_batch.Batch:
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    make(drop / name)
    (batch,) = [
        b
        for b in land_new_files(CERTS, urls["loader"], D, dropbox=drop, landing=tmp_path / "landing")
        if b.source_file == name
    ]
    return batch


def refusal(urls, batch: copy_batch.Batch) -> str:
    with pytest.raises(BatchRejected) as err:
        load_batch(CERTS, urls["loader"], batch)
    message = str(err.value)
    assert message.startswith(f"{batch.source_file}: "), message
    assert manifest(urls)[batch.source_file][1:] == ("rejected", message)
    with psycopg.connect(urls["loader"]) as conn:
        assert conn.execute(
            "select count(*) from raw.certificates where batch_id = %s", (batch.batch_id,)
        ).fetchone() == (0,)
    return message


def test_a_date_cell_that_is_not_a_date_is_refused_naming_the_row(urls, tmp_path) -> None:
    def make(path: Path) -> None:
        write_xlsx(path, [cert("D1"), cert("D2", 覆盖范围=1200)])  # type: ignore[arg-type]
        patch_zip(path, "xl/worksheets/sheet1.xml", b't="n"><v>1200</v>', b't="d"><v>not a date</v>')

    assert "row 3 of the workbook cannot be read (ValueError" in refusal(urls, land_one(urls, tmp_path, "d.xlsx", make))


def test_a_zip_bomb_member_is_refused_unpacked(urls, tmp_path) -> None:
    def make(path: Path) -> None:
        write_xlsx(path, [cert("Z1")])
        patch_zip(path, "xl/worksheets/sheet1.xml", b"Z1", b"Z1", {"xl/media/bomb.bin": bytes(64 << 20)})

    message = refusal(urls, land_one(urls, tmp_path, "bomb.xlsx", make))
    assert "workbook member xl/media/bomb.bin unpacks 67108864 bytes" in message and "a zip bomb?" in message


def test_a_workbook_unpacking_past_the_bound_is_refused_unread(urls, tmp_path, monkeypatch) -> None:
    # a sharedStrings.xml of many distinct strings: compresses as a normal workbook would, but big
    batch = land_one(
        urls,
        tmp_path,
        "big.xlsx",
        lambda p: write_xlsx(p, [cert(f"S{i:05d}", 覆盖范围=f"范围{i:05d}" * 20) for i in range(2000)]),
    )
    monkeypatch.setattr(settings, "MAX_XLSX_UNPACKED_BYTES", 200_000)
    message = refusal(urls, batch)
    assert "more than 200000 (GREENCERT_MAX_XLSX_UNPACKED_BYTES): refused unread" in message


def test_rows_past_the_bound_are_refused(urls, tmp_path, monkeypatch) -> None:
    batch = land_one(urls, tmp_path, "rows.csv", lambda p: write_csv(p, [cert(f"R{i}") for i in range(6)]))
    monkeypatch.setattr(settings, "MAX_FILE_ROWS", 5)
    assert "more than 5 data rows (GREENCERT_MAX_FILE_ROWS)" in refusal(urls, batch)


def test_a_file_past_the_byte_bound_is_refused_unread(urls, tmp_path, monkeypatch) -> None:
    batch = land_one(urls, tmp_path, "bytes.csv", lambda p: write_csv(p, [cert("B1")]))
    monkeypatch.setattr(settings, "MAX_FILE_BYTES", 100)
    assert "more than 100 (GREENCERT_MAX_FILE_BYTES); the file is refused unread" in refusal(urls, batch)


def test_an_unexpected_error_while_reading_is_the_batchs_refusal_not_a_crash(urls, tmp_path, monkeypatch) -> None:
    batch = land_one(urls, tmp_path, "odd.csv", lambda p: write_csv(p, [cert("O1")]))

    def boom(self, number, cells) -> None:
        raise KeyError("a case nobody thought of")

    monkeypatch.setattr(copy_batch._Rows, "record", boom)
    monkeypatch.setattr(copy_batch._Rows, "plain", lambda self, lines, first: boom(self, first, lines))
    assert refusal(urls, batch) == (
        "odd.csv: cannot be read (KeyError: 'a case nobody thought of'); the file is refused"
    )

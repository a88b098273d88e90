"""The drop folder yields only complete regular files inside it, and what lands is the service's own.

The attack this guards against: a symbolic link in var/dropbox/certificates/ to var/secrets/pgpass
copied every role's password into var/landing/ as a world-readable file. Each case puts a real
link, hard link, FIFO or half-written file next to a good file, polls the folder the way the
ingest DAG does (`take_drop_folder`), and asserts: the good file lands, the bad one is refused
with its name and reason (a `rejected` row in raw.landing_manifest, reported once) or left for
the next poll, and no byte of anything outside the folder reaches landing/.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest

from greencert import feeds
from greencert.extract import files
from greencert.extract.files import take_drop_folder

from ..integration.helpers import cert, write_csv

CERTS = feeds.get("certificates")
D = date(2025, 6, 30)
SECRET = b"greencert_loader:s3cr3t-password-of-the-loader\n"


@pytest.fixture
def urls(fresh_database) -> dict[str, str]:
    return fresh_database("greencert_drop_folder")


@pytest.fixture
def box(tmp_path) -> dict[str, Path]:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "pgpass").write_bytes(SECRET)
    drop = tmp_path / "drop"
    write_csv(drop / "good.csv", [cert("G1")])
    return {"drop": drop, "landing": tmp_path / "landing", "secret": secrets / "pgpass", "secrets": secrets}


def poll(urls, box, settle_s: float = 0) -> files.DropFolder:
    return take_drop_folder(CERTS, urls["loader"], D, dropbox=box["drop"], landing=box["landing"], settle_s=settle_s)


def landed_bytes(box) -> list[bytes]:
    return [p.read_bytes() for p in box["landing"].rglob("*") if p.is_file()]


def rejected(urls) -> dict[str, str]:
    with psycopg.connect(urls["loader"]) as conn:
        return dict(conn.execute("select source_file, reason from raw.landing_manifest where status = 'rejected'"))


def taken(drop: files.DropFolder) -> list[str]:
    return sorted(b.source_file for b in drop.batches)


@pytest.mark.parametrize(
    "make, why",
    [
        (lambda box: (box["drop"] / "pgpass.csv").symlink_to(box["secret"]), "a symbolic link, not a regular file"),
        (
            lambda box: (box["drop"] / "secrets.csv").symlink_to(box["secrets"], target_is_directory=True),
            "a symbolic link, not a regular file",
        ),
        (lambda box: os.link(box["secret"], box["drop"] / "hard.csv"), "a file with 2 hard links"),
        (lambda box: os.mkfifo(box["drop"] / "fifo.csv"), "a FIFO (named pipe), not a regular file"),
        (lambda box: (box["drop"] / "folder.csv").mkdir(), "a directory, not a regular file"),
    ],
)
def test_nothing_but_a_regular_file_inside_the_folder_is_read(urls, box, make, why) -> None:
    make(box)
    name = next(p.name for p in box["drop"].iterdir() if p.name != "good.csv")
    started = time.monotonic()
    drop = poll(urls, box)
    assert time.monotonic() - started < 10  # a FIFO never blocks the poll
    assert taken(drop) == ["good.csv"]
    assert len(drop.refused) == 1 and drop.refused[0].startswith(f"{name}: {why}"), drop.refused
    assert rejected(urls)[name].startswith(f"{name}: {why}")
    assert not any(SECRET in data for data in landed_bytes(box))
    # reported once: the next poll refuses it again in silence (it is in the manifest), the feed goes on
    assert poll(urls, box).refused == []


def test_a_link_swapped_in_after_the_listing_is_not_followed(box) -> None:
    path = box["drop"] / "swapped.csv"
    path.write_bytes(b"harmless")
    seen = os.lstat(path)
    path.unlink()
    path.symlink_to(box["secret"])  # the race: the checked file replaced by a link before it is opened
    incoming = box["landing"] / "in"
    incoming.mkdir(parents=True)
    with pytest.raises(files._Refused, match="cannot be opened as a regular file"):
        files._copy_in(path, seen, incoming)
    assert list(incoming.iterdir()) == []


def test_hidden_and_partial_names_are_not_taken(urls, box) -> None:
    for name in (".hidden.csv", "upload.csv.part", "upload.csv.tmp", "certs.csv~", "x.csv.crdownload"):
        write_csv(box["drop"] / name, [cert("P1")])
    drop = poll(urls, box)
    assert taken(drop) == ["good.csv"] and drop.refused == [] and rejected(urls) == {}


def test_a_file_still_being_written_is_left_for_the_next_poll(urls, box) -> None:
    growing = box["drop"] / "growing.csv"
    write_csv(growing, [cert("W1")])
    stop = threading.Event()

    def writer() -> None:  # a slow upload: a line every 0.1 s
        i = 2
        while not stop.is_set():
            with growing.open("a", encoding="utf-8") as fh:
                fh.write(",".join([f"W{i}"] + [""] * 20) + "\n")
            i += 1
            time.sleep(0.1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        drop = poll(urls, box, settle_s=0.5)
    finally:
        stop.set()
        thread.join()
    assert taken(drop) == ["good.csv"] and drop.waiting == ["growing.csv"] and drop.refused == []
    # the upload is done: once it has settled it is taken whole
    drop = poll(urls, box, settle_s=0.5)
    assert taken(drop) == ["good.csv", "growing.csv"]
    (batch,) = [b for b in drop.batches if b.source_file == "growing.csv"]
    assert batch.landed_path.read_bytes() == growing.read_bytes()


def test_what_lands_is_readable_by_the_service_user_only(urls, box) -> None:
    (batch,) = poll(urls, box).batches
    assert stat.S_IMODE(batch.landed_path.stat().st_mode) == 0o400
    folder = batch.landed_path.parent
    while True:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        if folder == box["landing"]:
            break
        folder = folder.parent
    assert stat.S_IMODE((box["landing"] / "certificates" / ".incoming").stat().st_mode) == 0o700


def test_task_logs_are_the_service_users_only() -> None:
    from greencert import environment, settings

    nowhere = "postgresql://127.0.0.1:1/d"  # the environment is only read, never connected with
    env = environment.airflow_env({"loader": nowhere, "transformer": nowhere})
    assert env["AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS"] == "0o700"
    assert env["AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS"] == "0o600"
    assert stat.S_IMODE((settings.AIRFLOW_HOME / "logs").stat().st_mode) == 0o700

"""The `files` connector: poll a drop folder, land each new file once, by content hash.

Every feed's drop folder is polled, whatever its connector: for an `http` feed it is the
fallback the contracts allow (a file sent by hand when the API is down).

Only complete regular files inside the folder are taken; nothing outside it is ever read:
- the folder is listed, not walked: a file directly in it whose name matches the feed's patterns;
  dotfiles and names of files still being written (`.part`, `.tmp`, `.crdownload`, `~`, …) are
  skipped;
- a symbolic link, a directory, a FIFO, a socket or a device is refused; so is a file with more
  than one hard link (its other name may be anywhere, a secret included);
- it is opened with O_NOFOLLOW (a link swapped in after the check is not followed) and O_NONBLOCK
  (a FIFO cannot hang the poll), and the open file must be the file checked (same device and inode,
  still one link, still regular);
- a file modified less than GREENCERT_DROP_SETTLE_S ago may still be being written: the poll waits
  (once, at most that long) and takes it only if its size and mtime did not change meanwhile, nor
  while it was copied;
- it is copied from the open descriptor into landing/ (private: 0700 folders, 0400 files).
A refused file is recorded once in raw.landing_manifest as a `rejected` batch with the reason, and
reported by the run that first sees it; it is never read, and the feed's other files go on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
import uuid
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatch
from pathlib import Path

import psycopg

from greencert import settings
from greencert.extract.landing import Batch, land, pending, private_dir
from greencert.feeds import Feed

__all__ = ["Batch", "DropFolder", "land_new_files", "take_drop_folder"]

log = logging.getLogger(__name__)

PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".filepart", ".swp", "~")


@dataclass
class DropFolder:
    """What one poll of the drop folder did."""

    batches: list[Batch]  # the feed's batches still to load (landed now or before)
    refused: list[str]  # files refused by this poll for the first time: name and reason
    waiting: list[str]  # files still being written: left for the next poll


class _Refused(Exception):
    pass


class _Changing(Exception):
    pass


def _kind(mode: int) -> str:
    for test, what in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return what
    return "not a regular file"


def _check(st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise _Refused(
            f"{_kind(st.st_mode)}, not a regular file: only files inside the drop folder are taken, "
            "nothing it points to"
        )
    if st.st_nlink > 1:
        raise _Refused(
            f"a file with {st.st_nlink} hard links: its other names may be outside the drop folder; "
            "copy it in (not `ln`)"
        )
    if st.st_size > settings.MAX_FILE_BYTES:
        raise _Refused(f"{st.st_size} bytes, more than {settings.MAX_FILE_BYTES} (GREENCERT_MAX_FILE_BYTES)")


def _copy_in(path: Path, seen: os.stat_result, into: Path) -> Path:
    """Copy the file checked as `seen` into `into` through a descriptor that cannot be anything else."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:  # ELOOP: a link swapped in after the listing
        raise _Refused(f"cannot be opened as a regular file ({exc.strerror})") from None
    tmp = into / f"{uuid.uuid4().hex}{path.suffix.lower()}"
    try:
        st = os.fstat(fd)
        _check(st)
        if (st.st_dev, st.st_ino) != (seen.st_dev, seen.st_ino):
            raise _Refused("replaced between listing and opening; taken at the next poll if it stays")
        os.set_blocking(fd, True)
        fdo = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fdo, "wb") as out:
            copied = 0
            while chunk := os.read(fd, 1 << 20):
                copied += len(chunk)
                if copied > settings.MAX_FILE_BYTES:
                    raise _Refused(f"more than {settings.MAX_FILE_BYTES} bytes (GREENCERT_MAX_FILE_BYTES)")
                out.write(chunk)
        after = os.fstat(fd)
        if (after.st_size, after.st_mtime_ns) != (seen.st_size, seen.st_mtime_ns) or copied != seen.st_size:
            raise _Changing("it changed while it was copied")
        return tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def _record_refusal(
    conn: psycopg.Connection, feed: str, name: str, st: os.stat_result | None, reason: str, logical_date: date
) -> bool:
    """The refusal as a rejected batch (once per file and state); True if it is new."""
    ident = f"{name}\0{reason}\0{st.st_ino if st else ''}\0{st.st_size if st else ''}\0{st.st_mtime_ns if st else ''}"
    digest = "refused:" + hashlib.sha256(ident.encode("utf-8", "surrogateescape")).hexdigest()
    cur = conn.execute(
        """insert into raw.landing_manifest
           (batch_id, feed, source_file, landed_path, sha256, size_bytes, logical_date, status, reason)
           values (%s, %s, %s, '', %s, %s, %s, 'rejected', %s) on conflict do nothing""",
        (
            f"{feed}-refused-{digest[8:24]}",
            feed,
            name,
            digest,
            st.st_size if st else 0,
            logical_date,
            f"{name}: {reason}; the file is refused unread",
        ),
    )
    return cur.rowcount == 1


def _candidates(feed: Feed, folder: Path) -> list[tuple[str, os.stat_result]]:
    out = []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name.lower().endswith(PARTIAL_SUFFIXES):
                continue  # hidden, or still being written under a temporary name
            if not any(fnmatch(name, p) for p in feed.file_patterns):
                continue
            out.append((name, entry.stat(follow_symlinks=False)))
    return sorted(out)


def take_drop_folder(
    feed: Feed,
    conninfo: str,
    logical_date: date,
    dropbox: Path | None = None,
    landing: Path = settings.LANDING,
    settle_s: float | None = None,
) -> DropFolder:
    """Land every complete regular file of the drop folder not seen before (module docstring)."""
    settle_s = settings.DROP_SETTLE_S if settle_s is None else settle_s
    dropbox = dropbox or settings.dropbox(feed.name)
    refused: list[str] = []
    waiting: list[str] = []
    found = _candidates(feed, dropbox.resolve()) if dropbox.is_dir() else []
    folder = dropbox.resolve()
    young = [st.st_mtime for _, st in found if time.time() - st.st_mtime < settle_s]
    if young:  # wait once, until the youngest is settle_s old, then look again
        time.sleep(max(0.0, min(settle_s, max(young) + settle_s - time.time())))
    incoming = private_dir(landing / feed.name / ".incoming", landing)
    with psycopg.connect(conninfo) as conn:
        for name, seen in found:
            path = folder / name
            try:
                _check(seen)
                now = os.lstat(path)
                if (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) != (
                    seen.st_dev,
                    seen.st_ino,
                    seen.st_size,
                    seen.st_mtime_ns,
                ):
                    raise _Changing("it changed while the poll waited for it to settle")
                if os.path.realpath(path) != str(path):
                    raise _Refused("its path resolves outside the drop folder")
                tmp = _copy_in(path, seen, incoming)
            except _Changing as exc:
                log.warning("feed %s: %s: still being written (%s): left for the next poll", feed.name, name, exc)
                waiting.append(name)
                continue
            except (_Refused, OSError) as exc:
                reason = str(exc) if isinstance(exc, _Refused) else f"cannot be read ({exc.strerror or exc})"
                if _record_refusal(conn, feed.name, name, seen, reason, logical_date):
                    refused.append(f"{name}: {reason}")
                log.warning("feed %s: %s refused: %s", feed.name, name, reason)
                conn.commit()
                continue
            try:
                land(conn, feed.name, tmp, name, logical_date, landing, move=True)
            finally:
                tmp.unlink(missing_ok=True)
            conn.commit()  # each file on its own: a later failure keeps the earlier ones landed
    return DropFolder(pending(conninfo, feed.name), refused, waiting)


def land_new_files(
    feed: Feed,
    conninfo: str,
    logical_date: date,
    dropbox: Path | None = None,
    landing: Path = settings.LANDING,
    settle_s: float | None = None,
) -> list[Batch]:
    """Land every file of the drop folder not seen before; return the feed's batches still to load."""
    return take_drop_folder(feed, conninfo, logical_date, dropbox, landing, settle_s).batches

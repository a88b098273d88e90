"""Where things live. Everything a run creates goes under var/ (git-ignored)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("GREENCERT_ROOT", Path(__file__).resolve().parents[2]))
VAR = Path(os.environ.get("GREENCERT_VAR", ROOT / "var"))

DBT_PROJECT_DIR = ROOT / "dbt_project"
EXPECTATIONS_DIR = ROOT / "expectations"
DAGS_DIR = ROOT / "dags"

PGDATA = VAR / "pgdata"
SECRETS_FILE = VAR / "secrets" / "warehouse.json"
AIRFLOW_HOME = VAR / "airflow"
DROPBOX = VAR / "dropbox"  # where the files connector polls (stand-in for the sources' drop folders)
LANDING = VAR / "landing"  # immutable copies of every file taken, by content hash
# the nightly report per snapshot date: var/reports/<date>/ (GREENCERT_REPORTS to put it elsewhere).
# One rule whatever the environment says, so the CLI, the Airflow tasks it starts (environment.airflow_env
# passes GREENCERT_VAR and GREENCERT_REPORTS on) and every worker agree on where a report is.
REPORTS = Path(os.environ.get("GREENCERT_REPORTS") or VAR / "reports")
API_STORE = VAR / "api"  # what the stand-in source API serves (the generator writes http feeds here)

TIMEZONE = "Asia/Shanghai"
DATABASE = os.environ.get("GREENCERT_DB", "greencert")
# Every port the project listens on is below Linux's ephemeral range (32768–60999): there, any
# outgoing connection of the machine may hold the port at the moment a server binds it.
PG_PORT = int(os.environ.get("GREENCERT_PG_PORT", "24329"))
# The local stand-in of the sources' HTTP API (`greencert source-api`; started by the demo and tests).
API_PORT = int(os.environ.get("GREENCERT_API_PORT", "24330"))
# `greencert serve`: the Airflow UI / REST API, and the Redis broker of the Celery workers (loopback)
AIRFLOW_PORT = int(os.environ.get("GREENCERT_AIRFLOW_PORT", "24380"))
REDIS_PORT = int(os.environ.get("GREENCERT_REDIS_PORT", "24381"))

# The warehouse's sessions (warehouse/roles.py, warehouse/server.py; docs/reliability.md "BI cannot
# starve or block the warehouse"). Connection limits per role (ALTER ROLE … CONNECTION LIMIT): their
# sum stays below max_connections minus the superuser's and the reserved slots, and the reserved slots
# (reserved_connections) are for the loader and the transformer only (pg_use_reserved_connections).
PG_MAX_CONNECTIONS = int(os.environ.get("GREENCERT_PG_MAX_CONNECTIONS", "200"))  # the embedded server's
PG_RESERVED_CONNECTIONS = int(os.environ.get("GREENCERT_PG_RESERVED_CONNECTIONS", "10"))
CONNECTION_LIMITS = {
    "loader": int(os.environ.get("GREENCERT_LOADER_CONNECTION_LIMIT", "50")),
    "transformer": int(os.environ.get("GREENCERT_TRANSFORMER_CONNECTION_LIMIT", "50")),
    "bi_reader": int(os.environ.get("GREENCERT_BI_READER_CONNECTION_LIMIT", "40")),
}
# greencert_bi_reader's session defaults: a BI statement, an idle BI transaction and a BI wait for a
# lock are ended past these (PostgreSQL interval text)
BI_STATEMENT_TIMEOUT = os.environ.get("GREENCERT_BI_STATEMENT_TIMEOUT", "2min")
BI_IDLE_IN_TRANSACTION_TIMEOUT = os.environ.get("GREENCERT_BI_IDLE_IN_TRANSACTION_TIMEOUT", "1min")
BI_LOCK_TIMEOUT = os.environ.get("GREENCERT_BI_LOCK_TIMEOUT", "30s")
# The publish takes its locks on `bi` and `marts` in short tries (a BI query arriving meanwhile waits at
# most one try) until PUBLISH_LOCK_WAIT_S, longer than BI's timeouts above; BI sessions still holding a
# read on them then (a client that lifted its own timeouts) are ended and the publish goes on.
PUBLISH_LOCK_TRY_MS = int(os.environ.get("GREENCERT_PUBLISH_LOCK_TRY_MS", "500"))
PUBLISH_LOCK_WAIT_S = float(os.environ.get("GREENCERT_PUBLISH_LOCK_WAIT_S", "150"))

# The http connector: attempts per page, first backoff (doubling, capped), read timeout per page.
HTTP_ATTEMPTS = int(os.environ.get("GREENCERT_HTTP_ATTEMPTS", "5"))
HTTP_BACKOFF_S = float(os.environ.get("GREENCERT_HTTP_BACKOFF_S", "1.0"))
HTTP_TIMEOUT_S = float(os.environ.get("GREENCERT_HTTP_TIMEOUT_S", "30"))


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


# Bounds on what a source can make us read (docs/reliability.md lists them). Past one, the fetch or
# the file is refused naming the feed, the URL or file and the bound: nothing is landed from a fetch,
# a file's batch is `rejected`, the watermark stays, and the feed's other batches go on.
# The http connector, per fetch (every page of every pass):
HTTP_MAX_PAGES = _int("GREENCERT_HTTP_MAX_PAGES", 2000)  # page requests
HTTP_MAX_RESPONSE_BYTES = _int("GREENCERT_HTTP_MAX_RESPONSE_BYTES", 64 << 20)  # one page's body
HTTP_MAX_FETCH_BYTES = _int("GREENCERT_HTTP_MAX_FETCH_BYTES", 1 << 30)  # all the pages' bodies
HTTP_MAX_RECORDS = _int("GREENCERT_HTTP_MAX_RECORDS", 1_000_000)  # records (and the total claimed)
HTTP_MAX_FETCH_S = _float("GREENCERT_HTTP_MAX_FETCH_S", 1800.0)  # wall time of the whole fetch
# the watermark never moves past the time of the fetch plus this (the source's clock may run ahead)
HTTP_CLOCK_SKEW_S = _float("GREENCERT_HTTP_CLOCK_SKEW_S", 300.0)
# A file (from the drop folder, or landed from a fetch), when it is landed and when it is loaded:
MAX_FILE_BYTES = _int("GREENCERT_MAX_FILE_BYTES", 2 << 30)
MAX_FILE_ROWS = _int("GREENCERT_MAX_FILE_ROWS", 5_000_000)
# an XLSX is a zip: the sum of its members' sizes unpacked (a zip bomb, a huge sharedStrings.xml),
# and the ratio unpacked / packed of any member larger than 1 MiB unpacked
MAX_XLSX_UNPACKED_BYTES = _int("GREENCERT_MAX_XLSX_UNPACKED_BYTES", 1 << 30)
MAX_XLSX_RATIO = _int("GREENCERT_MAX_XLSX_RATIO", 200)
MAX_LOAD_S = _float("GREENCERT_MAX_LOAD_S", 1800.0)  # wall time of reading one batch into raw
# The drop folder: a file modified less than this long ago may still be being written; the poll waits
# (once, at most this long) and takes it only if its size and mtime did not change meanwhile.
DROP_SETTLE_S = _float("GREENCERT_DROP_SETTLE_S", 2.0)


def dropbox(feed: str) -> Path:
    return DROPBOX / feed


# The mart gate's volume-anomaly check: a city total may not fall by more than this share from the
# last published snapshot unless a row in dq.explained_drops explains it (`greencert explain-drop`).
MAX_DROP_SHARE = float(os.environ.get("GREENCERT_MAX_DROP_SHARE", "0.10"))

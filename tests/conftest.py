"""Test session setup: an isolated var/ (own embedded PostgreSQL on its own port, own Airflow
home) so the tests never touch the demo's warehouse, and a fresh database per session."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# must be set before greencert.settings is imported
os.environ.setdefault("GREENCERT_VAR", str(ROOT / "var" / "test"))
os.environ.setdefault("GREENCERT_PG_PORT", "24339")
os.environ.setdefault("GREENCERT_API_PORT", "24340")
os.environ.setdefault("GREENCERT_AIRFLOW_PORT", "24341")
os.environ.setdefault("GREENCERT_REDIS_PORT", "24342")
os.environ.setdefault("GREENCERT_DB", "greencert_test")
# files written by a test are complete when it lands them: no settle wait (test_drop_folder sets its own)
os.environ.setdefault("GREENCERT_DROP_SETTLE_S", "0")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

"""Airflow's and dbt's command lines, run as subprocesses from this virtualenv: raise with their output
when they fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from greencert import settings

AIRFLOW_BIN = Path(sys.executable).with_name("airflow")
DBT_BIN = Path(sys.executable).with_name("dbt")


def dbt(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run dbt in the project folder; raise with its output on failure."""
    proc = subprocess.run(
        [str(DBT_BIN), *args],
        cwd=settings.DBT_PROJECT_DIR,
        env=env or dict(os.environ, DBT_PROFILES_DIR=str(settings.DBT_PROJECT_DIR)),
        text=True,
        capture_output=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-5000:]}\n{proc.stderr[-2000:]}")
    return proc


def dbt_parse() -> Path:
    """Compile the manifest Cosmos renders the nightly DAG from (no database needed)."""
    dbt(["parse", "--quiet"])
    return settings.DBT_PROJECT_DIR / "target" / "manifest.json"


def _failed(what: str, returncode: int, text: str) -> RuntimeError:
    """An error naming the command: the lines that say what failed, then the tail (a DAG's log is long)."""
    why = [
        line
        for line in text.splitlines()
        if any(word in line for word in ("[error", "Error", "FAILED", "DagRun failed", "refused"))
    ][:40]
    return RuntimeError(f"{what} exited {returncode}\n" + "\n".join(why) + "\n...\n" + text[-3000:])


def airflow(
    args: list[str],
    env: dict[str, str],
    check: bool = True,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(AIRFLOW_BIN), *args], env=env, text=True, capture_output=capture)
    if check and proc.returncode != 0:
        raise _failed(f"airflow {' '.join(args)}", proc.returncode, (proc.stdout or "") + (proc.stderr or ""))
    return proc

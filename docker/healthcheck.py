"""Healthchecks of docker-compose.yml's Airflow services, cheap enough to run every few seconds on a
small machine (an `airflow jobs check` imports Airflow: ~8 s of CPU each time).

    healthcheck.py http URL     the URL answers 2xx (the api-server, the scheduler's health server)
    healthcheck.py job TYPE     this container's TriggererJob / DagProcessorJob / SchedulerJob row in
                                Airflow's metadata DB is running and heartbeat in the last minute
    healthcheck.py celery       this container's Celery worker answers a ping through the broker
"""

from __future__ import annotations

import os
import re
import socket
import sys
import urllib.request


def http(url: str) -> None:
    with urllib.request.urlopen(url, timeout=10) as response:  # raises on 4xx/5xx
        response.read()


def job(job_type: str) -> None:
    import psycopg

    url = re.sub(r"^postgresql\+\w+://", "postgresql://", os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute(
            "select count(*) from job where job_type = %s and hostname = %s and state = 'running'"
            " and latest_heartbeat > now() - interval '60 seconds'",
            (job_type, socket.getfqdn()),
        ).fetchone()
    if not row or not row[0]:
        raise SystemExit(f"no running {job_type} with a recent heartbeat on {socket.getfqdn()}")


def celery() -> None:
    from celery import Celery

    app = Celery(broker=os.environ["AIRFLOW__CELERY__BROKER_URL"])
    name = f"celery@{socket.gethostname()}"
    if not app.control.ping(destination=[name], timeout=20):
        raise SystemExit(f"{name} did not answer")


if __name__ == "__main__":
    kind, *rest = sys.argv[1:]
    {"http": http, "job": job, "celery": celery}[kind](*rest)

"""Notifications against the stand-in receivers (standins.receivers): real Airflow
connections as AIRFLOW_CONN_* JSON, the real SMTP provider, and callbacks fired by real Airflow runs
(DAG.test(), then Airflow's own deadline handling: scheduler's handle_miss, triggerer's CallbackTrigger)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import date, datetime, timedelta
from importlib.metadata import version
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import psycopg
import pytest

from greencert import environment, settings, subprocesses
from greencert.notify import callbacks
from greencert.orchestration.nightly import RUNS_AT
from standins.receivers import SmtpReceiver, WebhookReceiver

from .notify_probe import FAILS, PROBE_DAGS, PUBLISHES, RERUN

SMTP_ENV, WEBHOOK_ENV = "AIRFLOW_CONN_GREENCERT_SMTP", "AIRFLOW_CONN_GREENCERT_WEBHOOK"
TO = ["ops@greencert.invalid", "duty@greencert.invalid"]
PUBLISHED_DAY = date(2025, 6, 29)  # what the fake bi.target_progress holds
LATE_DAY = date(2025, 6, 30)  # a night that never published
RERUN_DAY = date(2025, 6, 28)  # never published either, rerun by hand long after its deadline
SHANGHAI = ZoneInfo(settings.TIMEZONE)
LOG_URL = "http://airflow.example.invalid/dags/greencert_nightly/runs/scheduled__2025-06-30/tasks/audit?try_number=2"


@pytest.fixture(scope="module")
def smtp():
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def webhook():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def channels(smtp, webhook, monkeypatch):
    """Both channels configured as Airflow connections (AIRFLOW_CONN_* JSON), receivers emptied."""
    smtp.messages.clear()
    webhook.messages.clear()
    webhook.answer = {"errcode": 0, "errmsg": "ok"}
    monkeypatch.setenv(SMTP_ENV, json.dumps(smtp.connection(TO)))
    monkeypatch.setenv(WEBHOOK_ENV, json.dumps(webhook.connection()))
    return smtp, webhook


@pytest.fixture(scope="module")
def urls(fresh_database) -> dict[str, str]:
    """A warehouse whose bi.target_progress holds one published city row set (the view's columns)."""
    urls = fresh_database("greencert_notify")
    statuses = {"T01": "达标", "T02": "进度正常", "T03": "进度正常", "T04": "滞后", "T05": "未接入", "I01": "监测"}
    with psycopg.connect(urls["transformer"]) as conn:
        conn.execute("""create table bi.target_progress (
            as_of_date date, region_code text, target_id text, clause text, indicator_zh text,
            actual_value numeric, comparator text, target_value numeric, percent_of_target numeric,
            trajectory_value numeric, progress_status text, unit_zh text)""")
        for target, status in statuses.items():
            conn.execute(
                "insert into bi.target_progress values (%s, '320500', %s, '（一）', %s, 1, '≥', 2, 50, 1, %s, '家')",
                (PUBLISHED_DAY, target, f"指标{target}", status),
            )
    return urls


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def failure_context() -> dict:
    ti = SimpleNamespace(
        dag_id="greencert_nightly",
        task_id="audit",
        run_id="scheduled__2025-06-30T15:30:00+00:00",
        try_number=2,
        log_url=LOG_URL,
    )
    return {"ti": ti, "exception": RuntimeError("mart gate failed, nothing published:\nT06 city total fell 40%")}


def test_failure_by_email_and_webhook(channels) -> None:
    smtp, webhook = channels
    callbacks.task_failed(failure_context())

    [mail] = smtp.messages
    assert mail.subject == "[greencert] FAILED greencert_nightly.audit"
    assert mail.recipients == TO and mail.sender == "greencert@example.invalid"
    body = mail.body()
    assert "audit" in body and "scheduled__2025-06-30T15:30:00+00:00" in body
    assert "RuntimeError: mart gate failed" in body and "T06 city total fell 40%" in body
    assert f"href='{LOG_URL}'" in body.replace("&amp;", "&")

    [hook] = webhook.messages
    assert hook["path"] == "/robot/send?access_token=standin"
    assert hook["content_type"].startswith("application/json")
    payload = hook["json"]
    assert payload["msgtype"] == "markdown"
    assert payload["markdown"]["title"] == "[greencert] FAILED greencert_nightly.audit"
    text = payload["markdown"]["text"]
    assert "**task**: audit" in text and "T06 city total fell 40%" in text and f"[log]({LOG_URL})" in text


def test_a_missing_connection_skips_its_channel(channels, monkeypatch, caplog) -> None:
    smtp, webhook = channels
    monkeypatch.delenv(SMTP_ENV)
    assert callbacks.task_failed(failure_context()) == "email: skipped; webhook: sent"
    assert smtp.messages == [] and len(webhook.messages) == 1
    assert "connection greencert_smtp not defined" in caplog.text

    monkeypatch.delenv(WEBHOOK_ENV)
    assert callbacks.task_failed(failure_context()) == "email: skipped; webhook: skipped"
    assert len(webhook.messages) == 1


def test_receivers_down_or_refusing_do_not_raise(channels, monkeypatch) -> None:
    smtp, webhook = channels
    down = closed_port()
    monkeypatch.setenv(SMTP_ENV, json.dumps({**smtp.connection(TO), "port": down}))
    monkeypatch.setenv(WEBHOOK_ENV, json.dumps({**webhook.connection(), "port": down}))
    callbacks.task_failed(failure_context())  # returns: the task's own failure is what Airflow records
    outcome = callbacks.task_failed(failure_context())
    assert outcome.startswith("email: failed: ConnectionRefusedError") and "; webhook: failed: URLError" in outcome

    monkeypatch.setenv(WEBHOOK_ENV, json.dumps(webhook.connection()))
    webhook.answer = {"errcode": 310000, "errmsg": "keywords not in content"}  # DingTalk's refusal
    outcome = callbacks.task_failed(failure_context())
    assert "; webhook: failed: RuntimeError: webhook refused the message" in outcome
    assert len(webhook.messages) == 1


def test_no_recipients_is_a_logged_failure(channels, monkeypatch) -> None:
    smtp, _ = channels
    conn = smtp.connection([])
    monkeypatch.setenv(SMTP_ENV, json.dumps(conn))
    outcome = callbacks.task_failed(failure_context())
    assert outcome.startswith("email: failed: ValueError") and outcome.endswith("; webhook: sent")


def deadline_context(day: date, run_type: str = "scheduled") -> dict:
    """What Airflow passes a DeadlineAlert callback (Deadline.handle_miss): the run as the REST API shows it."""
    logical = datetime.combine(day, RUNS_AT, SHANGHAI)
    return {
        "dag_run": {
            "dag_id": "greencert_nightly",
            "dag_run_id": f"{run_type}__{logical.isoformat()}",
            "logical_date": logical.astimezone(ZoneInfo("UTC")).isoformat(),
            "run_type": run_type,
            "state": "running",
            "conf": {},
        },
        "deadline": {"id": "x", "deadline_time": (logical + timedelta(hours=7, minutes=30)).isoformat()},
    }


def test_deadline_alert_only_when_the_night_did_not_publish(channels, urls, monkeypatch) -> None:
    smtp, webhook = channels
    monkeypatch.setenv("AIRFLOW_CONN_GREENCERT_TRANSFORMER", environment.airflow_connection(urls["transformer"]))

    assert callbacks.deadline_missed(deadline_context(PUBLISHED_DAY)) == "no alert: 2025-06-29 is published"
    assert callbacks.deadline_missed(deadline_context(LATE_DAY, "backfill")).startswith("no alert: a backfill")
    assert smtp.messages == [] and webhook.messages == []

    assert callbacks.deadline_missed(deadline_context(LATE_DAY)) == "email: sent; webhook: sent"
    [mail] = smtp.messages
    assert mail.subject == "[greencert] greencert_nightly not published by 2025-07-01 07:00 Asia/Shanghai"
    assert "2025-06-30" in mail.body() and "bi.target_progress has nothing for 2025-06-30" in mail.body()
    text = webhook.messages[0]["json"]["markdown"]["text"]
    assert "/dags/greencert_nightly/runs/scheduled__2025-06-30T23%3A30%3A00%2B08%3A00" in text


@pytest.fixture(scope="module")
def probe_run(urls, smtp, webhook, tmp_path_factory) -> dict:
    """Both probe DAGs run by Airflow (notify_probe), with the channels pointing at the receivers."""
    smtp.messages.clear()
    webhook.messages.clear()
    dags = tmp_path_factory.mktemp("probe_dags")
    (dags / "probe.py").write_text(PROBE_DAGS)
    home = settings.VAR / "airflow_notify"
    env = environment.airflow_env(urls)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__API__BASE_URL": "http://airflow.greencert.invalid:8080",
            SMTP_ENV: json.dumps(smtp.connection(TO)),
            WEBHOOK_ENV: json.dumps(webhook.connection()),
            "PYTHONPATH": os.pathsep.join(
                [str(settings.ROOT), str(settings.ROOT / "plugins"), os.environ.get("PYTHONPATH", "")]
            ),
        }
    )
    marker = home / f".migrated-{version('apache-airflow')}"
    if not marker.exists():
        home.mkdir(parents=True, exist_ok=True)
        subprocesses.airflow(["db", "migrate"], env, capture=True)
        marker.touch()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.notify_probe",
            LATE_DAY.isoformat(),
            PUBLISHED_DAY.isoformat(),
            RERUN_DAY.isoformat(),
        ],
        env=env,
        cwd=settings.ROOT,
        text=True,
        capture_output=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return {"result": json.loads(proc.stdout.strip().splitlines()[-1]), "log": proc.stdout + proc.stderr}


def test_a_real_failed_task_notifies(probe_run, smtp, webhook) -> None:
    assert probe_run["result"]["states"][FAILS] == "failed"
    run_id = probe_run["result"]["run_ids"][FAILS]
    [hook] = [
        m
        for m in webhook.messages
        if "FAILED" in m["json"]["markdown"]["title"] and run_id in m["json"]["markdown"]["text"]
    ]
    assert hook["json"]["markdown"]["title"] == f"[greencert] FAILED {FAILS}.audit"
    text = hook["json"]["markdown"]["text"]
    assert "RuntimeError: probe: the mart gate refused T06 (苏州 city total fell 40%)" in text
    assert f"[log](http://airflow.greencert.invalid:8080/dags/{FAILS}/runs/" in text and "/tasks/audit" in text
    [mail] = [m for m in smtp.messages if m.subject == f"[greencert] FAILED {FAILS}.audit" and run_id in m.body()]
    assert mail.recipients == TO and "苏州 city total fell 40%" in mail.body()


def test_a_real_successful_night_sends_its_summary(probe_run, smtp, webhook) -> None:
    assert probe_run["result"]["states"][PUBLISHES] == "success"
    title = f"[greencert] {PUBLISHES} published {PUBLISHED_DAY}"
    [hook] = [m for m in webhook.messages if m["json"]["markdown"]["title"] == title]
    text = hook["json"]["markdown"]["text"]
    assert "达标 1 · 进度正常 2 · 滞后 1 · 未接入 1 (of 5)" in text
    assert "/srv/reports/probe/report.html" in text and "/srv/reports/probe/report.xlsx" in text
    assert "organic: last accepted batch 3 days old" in text
    assert [m for m in smtp.messages if m.subject == title]


def test_airflow_raises_the_deadline_alert_of_a_night_not_published(probe_run, smtp, webhook) -> None:
    result = probe_run["result"]
    # Airflow recorded the deadline 07:00 Asia/Shanghai after the 23:30 logical date
    [deadline] = [d for d in result["deadlines"] if d["run_id"] == result["run_ids"][FAILS]]
    assert deadline["dag_id"] == FAILS
    assert datetime.fromisoformat(deadline["logical_date"]).astimezone(SHANGHAI) == datetime(
        2025, 6, 30, 23, 30, tzinfo=SHANGHAI
    )
    assert datetime.fromisoformat(deadline["deadline_time"]).astimezone(SHANGHAI) == datetime(
        2025, 7, 1, 7, 0, tzinfo=SHANGHAI
    )
    # the scheduler queued the callback as a trigger; the triggerer's CallbackTrigger awaited it
    [event] = [e for e in result["events"] if e["run_id"] == result["run_ids"][FAILS]]
    assert event["callback"] == "greencert.notify.callbacks.nightly_deadline_missed"
    assert [p["state"] for p in event["payloads"]] == ["running", "success"], event
    assert event["payloads"][-1]["body"] == "email: sent; webhook: sent"
    # and the triggerer stored it (a dict here was its crash: "type 'dict' is not supported")
    assert event["stored"] == {"state": "success", "output": "email: sent; webhook: sent"}
    title = f"[greencert] {FAILS} not published by 2025-07-01 07:00 Asia/Shanghai"
    [hook] = [m for m in webhook.messages if m["json"]["markdown"]["title"] == title]
    assert "**state at the deadline**: failed" in hook["json"]["markdown"]["text"]
    assert [m for m in smtp.messages if m.subject == title]


def test_no_deadline_alert_for_a_past_date_rerun_by_hand(probe_run, smtp, webhook) -> None:
    """A manual run of a past date is created after its deadline (logical date + 7 h 30): Airflow
    fires the callback at once, which stays silent, though the run fails and the date never published."""
    result = probe_run["result"]
    run_id = result["run_ids"][RERUN]
    assert result["states"][RERUN] == "failed"
    [deadline] = [d for d in result["deadlines"] if d["run_id"] == run_id]
    assert datetime.fromisoformat(deadline["deadline_time"]).astimezone(SHANGHAI) == datetime(
        2025, 6, 29, 7, 0, tzinfo=SHANGHAI
    )
    [event] = [e for e in result["events"] if e["run_id"] == run_id]
    assert event["stored"] == {
        "state": "success",
        "output": "no alert: the run was created after its deadline 2025-06-29 07:00 Asia/Shanghai",
    }
    assert not [m for m in webhook.messages if "not published by 2025-06-29" in m["json"]["markdown"]["title"]]
    assert not [m for m in smtp.messages if "not published by 2025-06-29" in m.subject]

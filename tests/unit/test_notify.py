"""Notification texts, webhook addressing and channel isolation, without Airflow or a network."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import sqlite3
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from greencert import snapshot_date
from greencert.notify import SMTP_CONN, WEBHOOK_CONN, callbacks, channels, message
from greencert.orchestration import nightly


def test_failure_message_names_task_error_and_log() -> None:
    msg = message.task_failure(
        "greencert_nightly",
        "audit",
        "scheduled__1",
        "RuntimeError: <b>T06</b> & more",
        "http://af/dags/greencert_nightly/runs/scheduled__1/tasks/audit?try_number=1",
        1,
    )
    assert msg.title == "[greencert] FAILED greencert_nightly.audit"
    md = msg.markdown()
    assert "**task**: audit" in md and "RuntimeError: <b>T06</b> & more" in md
    assert "[log](http://af/dags/greencert_nightly/runs/scheduled__1/tasks/audit?try_number=1)" in md
    html = msg.html()
    assert "&lt;b&gt;T06&lt;/b&gt; &amp; more" in html and "<b>T06" not in html  # escaped
    assert "href='http://af/dags/greencert_nightly/runs/scheduled__1/tasks/audit?try_number=1'" in html


def test_a_long_error_is_clipped_with_a_pointer_to_the_log() -> None:
    msg = message.task_failure("d", "t", "r", "x" * 10_000, None)
    assert len(msg.detail) < message.MAX_DETAIL + 10 and msg.detail.endswith("more characters in the log)")
    assert msg.links == []


def test_status_counts_are_the_city_targets_only() -> None:
    rows = [
        ("T01", *[None] * 7, "达标"),
        ("T02", *[None] * 7, "滞后"),
        ("T03", *[None] * 7, "滞后"),
        ("T04", *[None] * 7, "未接入"),
        ("I01", *[None] * 7, "监测"),
    ]
    assert message.status_counts(rows) == {"达标": 1, "进度正常": 0, "滞后": 2, "未接入": 1}


def test_success_message_without_report_or_counts() -> None:
    md = message.nightly_success("greencert_nightly", "r1", "2025-06-30", None, None).markdown()
    assert "published 2025-06-30" in md and "**report**: —" in md and "targets" not in md


def test_webhook_url_from_an_http_connection() -> None:
    assert (
        channels.webhook_url("oapi.dingtalk.com", None, None, {"endpoint": "robot/send?access_token=t"})
        == "https://oapi.dingtalk.com/robot/send?access_token=t"
    )
    assert (
        channels.webhook_url("http://127.0.0.1", 9000, "https", {"endpoint": "/hook"}) == "http://127.0.0.1:9000/hook"
    )
    assert channels.webhook_url("127.0.0.1", 9000, "http", {}) == "http://127.0.0.1:9000"


def test_webhook_url_signed_for_dingtalk() -> None:
    url = channels.webhook_url(
        "oapi.dingtalk.com",
        None,
        "https",
        {"endpoint": "/robot/send?access_token=t", "secret": "SEC123"},
        now_ms=1700000000000,
    )
    query = parse_qs(urlsplit(url).query)
    expected = base64.b64encode(hmac.new(b"SEC123", b"1700000000000\nSEC123", hashlib.sha256).digest()).decode()
    assert query == {"access_token": ["t"], "timestamp": ["1700000000000"], "sign": [expected]}


def test_recipients_from_the_connection_extra() -> None:
    assert channels.recipients({"to": "a@x.cn; b@x.cn , "}) == ["a@x.cn", "b@x.cn"]
    assert channels.recipients({"to": ["a@x.cn"]}) == ["a@x.cn"]
    assert channels.recipients({}) == []


def test_payload_is_dingtalk_markdown() -> None:
    msg = message.task_failure("d", "t", "r", "boom", None)
    assert channels.webhook_payload(msg) == {
        "msgtype": "markdown",
        "markdown": {"title": msg.title, "text": msg.markdown()},
    }


def test_deliver_skips_missing_and_survives_failing_channels(monkeypatch) -> None:
    sent = []

    def broken(msg, conn):
        raise OSError("connection refused")

    monkeypatch.setitem(channels.CHANNELS, "email", (SMTP_CONN, broken))
    monkeypatch.setitem(channels.CHANNELS, "webhook", (WEBHOOK_CONN, lambda msg, conn: sent.append(conn)))
    msg = message.task_failure("d", "t", "r", "boom", None)
    conns = {SMTP_CONN: SimpleNamespace(conn_id=SMTP_CONN), WEBHOOK_CONN: SimpleNamespace(conn_id=WEBHOOK_CONN)}
    assert channels.deliver(msg, conns.get) == {"email": "failed: OSError: connection refused", "webhook": "sent"}
    assert channels.deliver(msg, {}.get) == {"email": "skipped", "webhook": "skipped"}
    assert len(sent) == 1


def test_snapshot_date_of_a_run() -> None:
    """One definition for the tasks (a DagRun and a datetime) and the deadline callback (the REST form)."""
    of_run = snapshot_date.of_run
    assert of_run({}, "2025-06-30T15:30:00Z") == "2025-06-30"  # 23:30 in Shanghai
    assert of_run(None, "2025-06-30T16:30:00+00:00") == "2025-07-01"
    assert of_run({"as_of_date": "2025-06-01"}, "2025-06-30T15:30:00Z") == "2025-06-01"
    assert of_run(None, None) is None
    import pendulum

    logical = pendulum.datetime(2025, 6, 30, 16, 30, tz="UTC")  # what Airflow puts in a task's context
    assert snapshot_date.of_context({"dag_run": SimpleNamespace(conf={}), "logical_date": logical}) == date(2025, 7, 1)
    assert snapshot_date.of_context(
        {"dag_run": SimpleNamespace(conf={"as_of_date": "2025-06-01"}), "logical_date": logical}
    ) == date(2025, 6, 1)
    with pytest.raises(ValueError):
        snapshot_date.of_context({"dag_run": None, "logical_date": None})


def test_the_nightly_deadline_is_seven_in_the_morning_in_shanghai() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    logical = datetime.combine(date(2025, 6, 30), nightly.RUNS_AT, shanghai)
    assert nightly.SCHEDULE == "30 23 * * *"
    assert logical + nightly.publish_deadline() == datetime(2025, 7, 1, 7, 0, tzinfo=shanghai)


def stored_as_callback_output(value: object) -> object:
    """What Airflow's triggerer does with a DeadlineAlert callback's return value (Callback.handle_event:
    `callback.output = payload["body"]`, a Text column): SQLite refuses a dict, PostgreSQL too."""
    with sqlite3.connect(":memory:") as db:
        db.execute("create table callback (output text)")
        db.execute("insert into callback (output) values (?)", (value,))
        return db.execute("select output from callback").fetchone()[0]


def deadline_run(**fields: object) -> dict:
    run = {
        "dag_id": "greencert_nightly",
        "dag_run_id": "scheduled__2025-06-30T15:30:00+00:00",
        "logical_date": "2025-06-30T15:30:00Z",
        "run_type": "scheduled",
        "state": "running",
        "conf": {},
        "queued_at": "2025-06-30T15:30:01Z",
        "run_after": "2025-06-30T15:30:00Z",
    }
    return {"dag_run": {**run, **fields}, "deadline": {"id": "x", "deadline_time": "2025-06-30T23:00:00Z"}}


def test_every_callback_returns_text_the_triggerer_can_store(monkeypatch) -> None:
    delivered = {"email": "sent", "webhook": "failed: URLError: <urlopen error [Errno 111] refused>"}
    monkeypatch.setattr(callbacks, "deliver", lambda msg: dict(delivered))
    monkeypatch.setattr(callbacks, "_published", lambda snapshot: False)
    monkeypatch.setattr(callbacks, "_run_url", lambda dag_id, run_id: "http://af/run")
    expected = "email: sent; webhook: failed: URLError: <urlopen error [Errno 111] refused>"

    alerted = asyncio.run(callbacks.nightly_deadline_missed(context=deadline_run()))
    assert stored_as_callback_output(alerted) == expected
    ti = SimpleNamespace(dag_id="greencert_nightly", task_id="audit", run_id="r1", try_number=1, log_url=None)
    assert stored_as_callback_output(callbacks.task_failed({"ti": ti, "exception": RuntimeError("x")})) == expected
    monkeypatch.setattr(callbacks, "conninfo", lambda conn_id: (_ for _ in ()).throw(LookupError(conn_id)))
    succeeded = callbacks.nightly_succeeded({"dag_run": None, "logical_date": None, "run_id": "r1"})
    assert stored_as_callback_output(succeeded) == expected

    # no alert, and a callback that breaks: still one line of text
    monkeypatch.setattr(callbacks, "_published", lambda snapshot: True)
    assert (
        stored_as_callback_output(asyncio.run(callbacks.nightly_deadline_missed(context=deadline_run())))
        == "no alert: 2025-06-30 is published"
    )
    monkeypatch.setattr(callbacks.snapshot_date, "of_run", lambda conf, logical_date: 1 / 0)
    assert (
        stored_as_callback_output(asyncio.run(callbacks.nightly_deadline_missed(context=deadline_run())))
        == "not sent: ZeroDivisionError: division by zero"
    )


def test_a_long_delivery_outcome_is_clipped() -> None:
    text = channels.outcome_text({"email": "failed: " + "x" * 2000, "webhook": "sent"})
    assert len(text) == channels.MAX_OUTCOME and text.startswith("email: failed: xxx") and text.endswith("…")
    assert channels.outcome_text({}) == "no channel"


def test_a_run_created_after_its_deadline_is_not_alerted_on(monkeypatch) -> None:
    """The README's "rerun the nightly for that date": logical date 2025-06-30 23:30, triggered on
    2025-07-03; its deadline (2025-07-01 07:00 Shanghai) passed before it existed. No alert, and no
    warehouse asked."""
    sent = []
    monkeypatch.setattr(callbacks, "deliver", lambda msg: sent.append(msg) or {"email": "sent"})
    monkeypatch.setattr(callbacks, "_published", lambda snapshot: pytest.fail("asked the warehouse"))
    rerun = deadline_run(
        run_type="manual",
        dag_run_id="manual__2025-07-03T02:11:09+00:00",
        run_after="2025-07-03T02:11:09.512Z",
        queued_at="2025-07-03T02:11:09.6+00:00",
        start_date="2025-07-03T02:11:11Z",
    )
    assert callbacks.deadline_missed(rerun) == (
        "no alert: the run was created after its deadline 2025-07-01 07:00 Asia/Shanghai"
    )
    # the deadline as the scheduler passes it: a datetime, not text
    rerun["deadline"]["deadline_time"] = datetime(2025, 6, 30, 23, 0, tzinfo=ZoneInfo("UTC"))
    assert callbacks.deadline_missed(rerun).startswith("no alert: the run was created after")
    assert sent == []


def test_a_night_that_truly_misses_seven_is_alerted_on(monkeypatch) -> None:
    sent = []
    monkeypatch.setattr(callbacks, "deliver", lambda msg: sent.append(msg) or {"email": "sent"})
    monkeypatch.setattr(callbacks, "_published", lambda snapshot: False)
    monkeypatch.setattr(callbacks, "_run_url", lambda dag_id, run_id: "http://af/run")
    # the scheduled night: asked for at 23:30, still running at 07:00
    assert callbacks.deadline_missed(deadline_run()) == "email: sent"
    # queued late (the scheduler was down at 23:30): it was still due at 23:30, so it still alerts
    assert callbacks.deadline_missed(deadline_run(queued_at="2025-07-01T00:10:00Z")) == "email: sent"
    # a manual run of today's date triggered before the deadline, not done by it
    assert (
        callbacks.deadline_missed(
            deadline_run(run_type="manual", run_after="2025-06-30T22:59:59Z", queued_at="2025-06-30T22:59:59Z")
        )
        == "email: sent"
    )
    # without creation times (an older Airflow's context) the alert is not swallowed
    assert callbacks.deadline_missed(deadline_run(run_after=None, queued_at=None)) == "email: sent"
    assert [m.title for m in sent] == [
        "[greencert] greencert_nightly not published by 2025-07-01 07:00 Asia/Shanghai"
    ] * 4


def test_the_deadline_alert_names_the_exact_time() -> None:
    """The UI shows a DeadlineAlert's interval through dayjs' humanize(), which rounds 7 h 30 to
    "8 hours" ("Must complete within 8 hours of logical date"); the alert's name, shown beside it,
    says the exact rule."""
    alert = nightly.deadline_alert()
    assert alert.interval == timedelta(hours=7, minutes=30)
    assert alert.name == "published by 07:00 Asia/Shanghai (logical date 23:30 + 7h30)"

"""Delivery: e-mail through Airflow's SMTP provider and a DingTalk/WeCom-style webhook.

Each channel is configured by an Airflow connection (AIRFLOW_CONN_* env, a secrets backend or the UI):
- `greencert_smtp` (type smtp): host, port, login/password as the SMTP provider reads them (its
  extra: `from_email`, `disable_ssl`, `disable_tls`, `timeout`, `retry_limit`), plus `to`: the
  recipients, a list or a comma-separated string.
- `greencert_webhook` (type http): host (with or without its scheme), port, schema = the scheme
  (default https); extra `endpoint` (path and query, e.g. `/robot/send?access_token=…`), optional
  `secret` (a DingTalk robot's signing secret), `timeout` (seconds, default 10).

`deliver` never raises: a missing connection skips its channel with a log line, a failed send is
logged; a notification must not change or hide the outcome of the run it reports on. `outcome_text`
is what the callbacks return: one line of text, because Airflow's triggerer stores a DeadlineAlert
callback's return value in `callback.output`, a Text column (a dict there crashes the triggerer).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from greencert.notify import SMTP_CONN, WEBHOOK_CONN
from greencert.notify.message import Message

log = logging.getLogger(__name__)

Lookup = Callable[[str], Any]  # conn_id -> an Airflow Connection, or None when it does not exist


def airflow_connection(conn_id: str) -> Any:
    """The Airflow connection, or None when it is not defined anywhere."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def recipients(extra: dict[str, Any]) -> list[str]:
    to = extra.get("to") or []
    if isinstance(to, str):
        to = to.replace(";", ",").split(",")
    return [address.strip() for address in to if address and address.strip()]


def send_email(message: Message, conn: Any) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    extra = conn.extra_dejson
    to = recipients(extra)
    if not to:
        raise ValueError(f'connection {conn.conn_id} has no recipients: set "to" in its extra')
    with SmtpHook(smtp_conn_id=conn.conn_id) as hook:
        hook.send_email_smtp(
            to=to,
            subject=message.title,
            html_content=message.html(),
            from_email=extra.get("from_email") or (conn.login if "@" in (conn.login or "") else None),
        )


def webhook_url(
    host: str | None, port: int | None, schema: str | None, extra: dict[str, Any], now_ms: int | None = None
) -> str:
    """The URL to post to, from an HTTP connection's fields (and a DingTalk signature if it has a secret)."""
    if not host:
        raise ValueError("the webhook connection has no host")
    base = host.rstrip("/") if "://" in host else f"{schema or 'https'}://{host.rstrip('/')}"
    if port:
        base += f":{port}"
    endpoint = str(extra.get("endpoint") or "")
    url = base + (endpoint if endpoint.startswith("/") or not endpoint else "/" + endpoint)
    secret = extra.get("secret")
    if secret:  # DingTalk 加签: timestamp + HMAC-SHA256 of "timestamp\nsecret"
        ts = str(now_ms if now_ms is not None else int(time.time() * 1000))
        digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
        url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={quote_plus(base64.b64encode(digest))}"
    return url


def webhook_payload(message: Message) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.markdown()}}


def send_webhook(message: Message, conn: Any) -> None:
    extra = conn.extra_dejson
    url = webhook_url(conn.host, conn.port, conn.schema, extra)
    request = urllib.request.Request(
        url,
        data=json.dumps(webhook_payload(message), ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=float(extra.get("timeout", 10))) as response:  # noqa: S310
        body = response.read()
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return
    # DingTalk and WeCom answer 200 with {"errcode": 0, ...}; anything else was refused
    if isinstance(answer, dict) and answer.get("errcode", 0) != 0:
        raise RuntimeError(f"webhook refused the message: {answer}")


CHANNELS: dict[str, tuple[str, Callable[[Message, Any], None]]] = {
    "email": (SMTP_CONN, send_email),
    "webhook": (WEBHOOK_CONN, send_webhook),
}


def deliver(message: Message, lookup: Lookup | None = None) -> dict[str, str]:
    """Send on every configured channel; what happened per channel: sent / skipped / failed: why."""
    lookup = lookup or airflow_connection
    outcome: dict[str, str] = {}
    for name, (conn_id, send) in CHANNELS.items():
        try:
            conn = lookup(conn_id)
            if conn is None:
                log.info(
                    "notification %r: no %s channel (Airflow connection %s not defined), skipped",
                    message.title,
                    name,
                    conn_id,
                )
                outcome[name] = "skipped"
                continue
            send(message, conn)
            log.info("notification %r sent by %s (connection %s)", message.title, name, conn_id)
            outcome[name] = "sent"
        except Exception as exc:  # a notification must never fail the run it reports on
            log.warning(
                "notification %r by %s (connection %s) failed: %s: %s",
                message.title,
                name,
                conn_id,
                type(exc).__name__,
                exc,
            )
            outcome[name] = f"failed: {type(exc).__name__}: {exc}"
    return outcome


MAX_OUTCOME = 500  # callback.output is for a glance in the metadata DB; the log has the details


def outcome_text(outcome: dict[str, str]) -> str:
    """One line per delivery, e.g. "email: sent; webhook: skipped" (a callback's storable return value)."""
    text = "; ".join(f"{name}: {what}" for name, what in outcome.items()) or "no channel"
    return text if len(text) <= MAX_OUTCOME else text[: MAX_OUTCOME - 1] + "…"

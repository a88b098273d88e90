"""Stand-ins of the notification receivers, on loopback: an SMTP server and a webhook endpoint.

Both record what they receive (`.messages`), for the tests and to try the notifications locally:
- `SmtpReceiver`: enough of SMTP (RFC 5321) for smtplib and Airflow's SMTP provider — HELO/EHLO,
  MAIL, RCPT, DATA (dot-unstuffed), RSET, NOOP, QUIT; no TLS, no AUTH (the connection's extra sets
  `disable_ssl` and `disable_tls`). Each mail is recorded as (sender, recipients, parsed message).
- `WebhookReceiver`: records each POST's path and JSON body and answers like DingTalk/WeCom
  (`{"errcode": 0, "errmsg": "ok"}`; `answer` changes the reply, e.g. an errcode to refuse).
"""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def body(self) -> str:
        """The text of every text part, decoded."""
        return "\n".join(part.get_content() for part in self.message.walk() if part.get_content_maintype() == "text")


@dataclass
class _Envelope:
    sender: str = ""
    recipients: list[str] = field(default_factory=list)


def _address(arg: str) -> str:
    # "FROM:<a@b> SIZE=123" → a@b
    value = arg.split(":", 1)[1].strip() if ":" in arg else arg
    value = value.split(" ", 1)[0]
    return value.strip("<>")


class _Served:
    """A receiver whose `server` (a socketserver) answers from a daemon thread between start and stop."""

    server: socketserver.BaseServer

    def start(self) -> Self:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver(_Served):
    """A loopback SMTP server that keeps every mail it is sent."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.messages: list[Mail] = []
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode("ascii") + b"\r\n")

            def handle(self) -> None:
                envelope = _Envelope()
                self.reply("220 greencert stand-in SMTP ready")
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    verb, _, arg = line.partition(" ")
                    verb = verb.upper()
                    if verb == "EHLO":
                        self.wfile.write(b"250-greencert-standin\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                    elif verb == "HELO":
                        self.reply("250 greencert-standin")
                    elif verb == "MAIL":
                        envelope = _Envelope(sender=_address(arg))
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        envelope.recipients.append(_address(arg))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        if not envelope.recipients:
                            self.reply("503 RCPT first")
                            continue
                        self.reply("354 end data with <CR><LF>.<CR><LF>")
                        lines = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                            lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                        parsed = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                        receiver.messages.append(Mail(envelope.sender, list(envelope.recipients), parsed))
                        envelope = _Envelope()
                        self.reply("250 OK queued")
                    elif verb == "RSET":
                        envelope = _Envelope()
                        self.reply("250 OK")
                    elif verb == "NOOP":
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 command not implemented")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((host, port), Handler)
        self.host, self.port = self.server.server_address[:2]

    def connection(self, to: list[str], from_email: str = "greencert@example.invalid") -> dict[str, Any]:
        """The Airflow connection (JSON form of AIRFLOW_CONN_*) pointing at this receiver."""
        return {
            "conn_type": "smtp",
            "host": self.host,
            "port": self.port,
            "extra": {
                "from_email": from_email,
                "to": to,
                "disable_ssl": True,
                "disable_tls": True,
                "timeout": 10,
                "retry_limit": 0,
            },
        }


class WebhookReceiver(_Served):
    """A loopback HTTP endpoint that keeps the JSON of every POST."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.messages: list[dict[str, Any]] = []  # {"path", "json"}
        self.answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(body.decode("utf-8"))
                except ValueError:
                    payload = None
                receiver.messages.append(
                    {"path": self.path, "json": payload, "content_type": self.headers.get("Content-Type")}
                )
                out = json.dumps(receiver.answer).encode()
                self.send_response(200 if payload is not None else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.host, self.port = self.server.server_address[:2]

    def connection(self, endpoint: str = "/robot/send?access_token=standin") -> dict[str, Any]:
        """The Airflow HTTP connection (JSON form of AIRFLOW_CONN_*) pointing at this receiver."""
        return {
            "conn_type": "http",
            "host": self.host,
            "port": self.port,
            "schema": "http",
            "extra": {"endpoint": endpoint, "timeout": 5},
        }

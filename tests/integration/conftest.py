"""Fixtures on the real warehouse: the embedded PostgreSQL (or WAREHOUSE_URL) and real roles.

Each test module that needs isolation asks `fresh_database(name)`: a new database on the same
server, bootstrapped with the same schemas, roles and grants as production.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from greencert import settings, warehouse
from greencert.warehouse import roles


@pytest.fixture(scope="session")
def fresh_database() -> Callable[[str], dict[str, str]]:
    admin = warehouse.admin_url()

    def make(name: str) -> dict[str, str]:
        roles.drop_database(admin, name)
        return roles.bootstrap(admin, name)

    return make


@pytest.fixture(scope="session")
def role_urls(fresh_database) -> dict[str, str]:
    return fresh_database(settings.DATABASE)

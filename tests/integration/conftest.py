"""Fixtures on the real warehouse: the embedded PostgreSQL (or WAREHOUSE_URL) and real roles.

Each test module that needs isolation asks `fresh_database(name)`: a new database on the same
server, bootstrapped with the same schemas, roles and grants as production.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from greencert import settings, warehouse
from greencert.warehouse import roles


@pytest.fixture(scope="session")
def fresh_database() -> Iterator[Callable[[str], dict[str, str]]]:
    from greencert.warehouse import server

    embedded = not os.environ.get("WAREHOUSE_URL")
    was_running = embedded and server.is_running()
    admin = warehouse.admin_url()

    def make(name: str) -> dict[str, str]:
        roles.drop_database(admin, name)
        return roles.bootstrap(admin, name)

    yield make
    if embedded and not was_running:  # leave the machine as we found it
        server.stop()


@pytest.fixture(scope="session")
def role_urls(fresh_database) -> dict[str, str]:
    return fresh_database(settings.DATABASE)


@pytest.fixture(scope="session")
def source_api() -> Iterator:
    """The stand-in of the sources' HTTP API on its configured port, serving settings.API_STORE,
    for the tests that run the ingest DAGs of the http feeds."""
    from standins.api_server import StandinAPI

    api = StandinAPI(settings.API_STORE, settings.API_PORT).start()
    yield api
    api.stop()

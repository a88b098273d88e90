"""The reliability tests use the integration tests' real warehouse: the same embedded PostgreSQL
(or WAREHOUSE_URL) and `fresh_database(name)`, a new database bootstrapped with production's
schemas, roles and grants."""

from __future__ import annotations

import pytest

from ..integration.conftest import fresh_database, role_urls  # noqa: F401  (fixtures shared with integration/)


@pytest.fixture(scope="session")
def night(fresh_database, tmp_path_factory) -> dict[str, str]:  # noqa: F811  (the fixture, by name)
    """The fault tests' clean night (tests/reliability/faults.py): built once, copied per module."""
    from .faults import clean_night

    return clean_night(fresh_database, tmp_path_factory.mktemp("night"))

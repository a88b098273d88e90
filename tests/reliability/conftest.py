"""The reliability tests use the integration tests' real warehouse: the same embedded PostgreSQL
(or WAREHOUSE_URL) and `fresh_database(name)`, a new database bootstrapped with production's
schemas, roles and grants."""

from __future__ import annotations

from ..integration.conftest import fresh_database, role_urls  # noqa: F401  (fixtures shared with integration/)

"""The stack tests (marked `stack`, run by `make test-stack`): Airflow as deployed, on the tests'
warehouse server; the warehouse fixtures are the integration tests' own."""

from tests.integration.conftest import fresh_database, source_api  # noqa: F401

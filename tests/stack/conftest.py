"""Tests of the whole stack as it is run: Airflow's api-server, scheduler, DAG processor and
triggerer as separate processes (greencert.serve.Stack, what `greencert serve` starts), DAGs
triggered through the REST API; the Celery workers; the docker-compose stack. Every test here is
marked `stack`: `make test` leaves them out, `make test-stack` runs them (CI runs both)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from greencert import settings
from greencert.serve.stack import Stack

from ..integration.conftest import fresh_database, role_urls, source_api  # noqa: F401  (shared fixtures)

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.stack)


@pytest.fixture(scope="module")
def airflow_stack() -> Iterator[Callable[..., Stack]]:
    """Start a Stack (stopped when the module ends, whatever happened); the scheduler runs only
    what a test triggers. Each stack of a module gets its own metadata database."""
    from greencert import warehouse

    started: list[Stack] = []

    def start(role_urls: dict[str, str], name: str, **kwargs: object) -> Stack:  # noqa: F811
        stack = Stack(
            role_urls,
            warehouse.admin_url(),
            schedules=False,
            metadata_db=f"airflow_{name}",
            home=settings.VAR / f"airflow_{name}",
            **kwargs,
        )  # type: ignore[arg-type]
        started.append(stack)
        return stack.start()

    yield start
    for stack in started:
        stack.stop()

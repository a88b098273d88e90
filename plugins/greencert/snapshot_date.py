"""A run's snapshot date — the date the warehouse's numbers are as of — the one definition: the
run's conf `as_of_date` (a rerun or backfill of a past date), else its logical date in Asia/Shanghai.

Tasks read it from their context (a DagRun and a logical date), the deadline callback from the run's
REST form (conf and logical date as ISO text); both go through `of_run`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from greencert import settings


def of_run(conf: Mapping[str, Any] | None, logical_date: datetime | str | None) -> str | None:
    """The snapshot date as ISO text; None when the run has neither (an asset-triggered run without a date)."""
    if conf and conf.get("as_of_date"):
        return date.fromisoformat(str(conf["as_of_date"])).isoformat()
    if not logical_date:
        return None
    when = (
        logical_date
        if isinstance(logical_date, datetime)
        else datetime.fromisoformat(str(logical_date).replace("Z", "+00:00"))
    )
    return when.astimezone(ZoneInfo(settings.TIMEZONE)).date().isoformat()


def of_context(context: Mapping[str, Any]) -> date:
    """The snapshot date of the run a task (or a DAG callback) runs in: its Airflow context."""
    day = of_run(getattr(context.get("dag_run"), "conf", None), context.get("logical_date"))
    if day is None:
        raise ValueError("the run has no as_of_date in its conf and no logical date")
    return date.fromisoformat(day)

"""The notification texts, from plain values: one Message renders to markdown (webhook) and HTML (e-mail)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# the city row's statuses, in the order a reader expects them (indicators are 监测: tracked, no target)
STATUSES = ("达标", "进度正常", "滞后", "未接入")
MAX_DETAIL = 4000  # characters of an exception or log text kept in a message (webhooks cap their size)


@dataclass(frozen=True)
class Message:
    title: str
    facts: Sequence[tuple[str, str]] = ()  # label, value
    detail: str | None = None  # preformatted text: the exception
    links: Sequence[tuple[str, str]] = ()  # label, url
    notes: Sequence[str] = field(default=())

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        lines += [f"- **{label}**: {value}" for label, value in self.facts]
        lines += [f"- {note}" for note in self.notes]
        if self.detail:
            lines += ["", "```", self.detail, "```"]
        if self.links:
            lines += ["", " · ".join(f"[{label}]({url})" for label, url in self.links)]
        return "\n".join(lines)

    def html(self) -> str:
        e = html.escape
        rows = "".join(f"<tr><th align='left'>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in self.facts)
        parts = [f"<h3>{e(self.title)}</h3>", f"<table>{rows}</table>" if rows else ""]
        parts += [f"<p>{e(note)}</p>" for note in self.notes]
        if self.detail:
            parts.append(f"<pre>{e(self.detail)}</pre>")
        parts += [f"<p><a href='{e(url, quote=True)}'>{e(label)}</a>: {e(url)}</p>" for label, url in self.links]
        return "<html><body>" + "".join(parts) + "</body></html>"


def _clip(text: str, limit: int = MAX_DETAIL) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    kept = text[: limit - 40].rstrip()
    return f"{kept}\n… ({len(text) - len(kept)} more characters in the log)"


def task_failure(
    dag_id: str, task_id: str, run_id: str, error: str | None, log_url: str | None, try_number: int | None = None
) -> Message:
    facts = [("DAG", dag_id), ("task", task_id), ("run", run_id)]
    if try_number:
        facts.append(("try", str(try_number)))
    return Message(
        title=f"[greencert] FAILED {dag_id}.{task_id}",
        facts=facts,
        detail=_clip(error or "(no exception text)"),
        links=[("log", log_url)] if log_url else [],
    )


def status_counts(rows: Sequence[Sequence[object]], status_column: int = 8) -> dict[str, int]:
    """How many targets of the city row stand at each status (rows as greencert.report.progress_table.rows)."""
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        status = str(row[status_column])
        if str(row[0]).startswith("T"):
            counts[status] = counts.get(status, 0) + 1
    return counts


def nightly_success(
    dag_id: str,
    run_id: str,
    snapshot_date: str | None,
    counts: Mapping[str, int] | None,
    report: Mapping[str, str] | None,
    warnings: Sequence[str] = (),
    problems: Sequence[str] = (),
) -> Message:
    """The nightly published: the snapshot date, the targets per status on the city row, the report."""
    facts = [("snapshot", snapshot_date or "?"), ("run", run_id)]
    if counts is not None:
        total = sum(counts.values())
        facts.append(
            (
                "targets (city)",
                " · ".join(f"{s} {counts.get(s, 0)}" for s in STATUSES)
                + "".join(f" · {s} {n}" for s, n in counts.items() if s not in STATUSES)
                + f" (of {total})",
            )
        )
    if report:
        facts += [(f"report ({kind})", str(path)) for kind, path in sorted(report.items())]
    else:
        facts.append(("report", "—"))
    notes = [f"mart gate warning: {w}" for w in warnings] + list(problems)
    return Message(title=f"[greencert] {dag_id} published {snapshot_date or ''}".rstrip(), facts=facts, notes=notes)


def deadline_missed(
    dag_id: str,
    run_id: str,
    snapshot_date: str | None,
    state: str | None,
    deadline: str,
    run_url: str | None,
    notes: Sequence[str] = (),
) -> Message:
    return Message(
        title=f"[greencert] {dag_id} not published by {deadline}",
        facts=[("snapshot", snapshot_date or "?"), ("run", run_id), ("state at the deadline", state or "?")],
        notes=list(notes),
        links=[("run", run_url)] if run_url else [],
    )

"""What the gate did, for people: the quarantine of a feed and date, and a day's gate summary.

Every value read from the warehouse is printed through greencert.terminal_text.visible: a file
name or a cell a source sent cannot put an escape sequence, a line break or a bidi override on the
terminal (each shows as its escape, \x1b, \n, \u202e), so a listing line is one record.
"""

from __future__ import annotations

from datetime import date

import psycopg

from greencert.terminal_text import visible


def quarantine_listing(conninfo: str, day: date | None = None, feed: str | None = None, limit: int = 50) -> str:
    """Batches landed on `day` (all days if None) for `feed` (all if None): their fate, then every
    quarantined row (file, row, column, rule, value), enough to fix the source and send it again."""
    where = (
        "where (%(day)s::date is null or m.logical_date = %(day)s) and (%(feed)s::text is null or m.feed = %(feed)s)"
    )
    params = {"day": day, "feed": feed, "limit": limit}
    with psycopg.connect(conninfo) as conn:
        batches = conn.execute(
            f"""select m.logical_date, m.feed, m.source_file, m.batch_id, m.status, m.rows,
                       (select count(distinct q.source_row) from dq.quarantine q where q.batch_id = m.batch_id),
                       m.reason
                from raw.landing_manifest m {where} order by m.logical_date, m.feed, m.landed_at""",
            params,
        ).fetchall()
        rows = conn.execute(
            f"""select m.feed, q.source_file, q.source_row, q.column_name, q.rule, q.value, q.detail
                from dq.quarantine q join raw.landing_manifest m using (batch_id) {where}
                order by m.feed, q.source_file, q.source_row, q.rule limit %(limit)s""",
            params,
        ).fetchall()
        total = conn.execute(
            f"select count(*) from dq.quarantine q join raw.landing_manifest m using (batch_id) {where}", params
        ).fetchone()
    scope = visible(f"{feed or 'every feed'}, {'landed ' + day.isoformat() if day else 'every date'}")
    if not batches:
        return f"No batch landed ({scope})."
    out = [f"Batches ({scope}):", f"  {'date':<10}  {'feed':<24}  {'status':<8}  {'rows':>7}  {'quarant.':>8}  file"]
    for d, f, src, _bid, status, n, quarantined, reason in batches:
        out.append(
            f"  {d}  {visible(f):<24}  {visible(status):<8}  {n if n is not None else '-':>7}  "
            f"{quarantined:>8}  {visible(src)}"
        )
        if status == "rejected" and reason:
            out.append(f"      refused: {visible(reason.strip()[:300])}")
    n_total = total[0] if total else 0
    out.append("")
    out.append(f"Quarantined rows: {n_total} rule breaks" + (f" (first {limit} shown)" if n_total > limit else ""))
    for f, src, row, col, rule, value, detail in rows:
        shown = "∅" if value is None else "'" + visible(value if len(value) <= 60 else value[:57] + "...") + "'"
        where = f"row {row}" if col is None else f"row {row}, column {visible(col)}"  # a rule on the whole row
        out.append(f"  {visible(f)} {visible(src)} {where}: {visible(rule)} — {visible(detail)}; value {shown}")
    return "\n".join(out)


def gate_summary(conninfo: str, day: date) -> str:
    """A paragraph for people: what the raw gate did with the batches landed on `day` (rows checked,
    quarantined, passed; batches refused) and the mart gate's result on the day's build."""
    with psycopg.connect(conninfo) as conn:
        batches = conn.execute(
            """select m.status, count(*), coalesce(sum(m.rows), 0),
                      coalesce(sum((select count(distinct q.source_row) from dq.quarantine q
                                    where q.batch_id = m.batch_id)), 0)
               from raw.landing_manifest m where m.logical_date = %s group by m.status""",
            (day,),
        ).fetchall()
        rules = conn.execute(
            """select q.rule, count(*) from dq.quarantine q join raw.landing_manifest m using (batch_id)
               where m.logical_date = %s group by 1 order by 2 desc, 1""",
            (day,),
        ).fetchall()
        mart = conn.execute(
            """select count(*), count(*) filter (where success),
                      count(*) filter (where not success and severity <> 'critical')
               from dq.validation_runs
               where run_id = (select run_id from dq.validation_runs where target = %s
                               order by validated_at desc limit 1) and target = %s""",
            (f"build_{day:%Y%m%d}.fct_target_progress",) * 2,
        ).fetchone()
    by_status = {status: (n, rows, quarantined) for status, n, rows, quarantined in batches}
    n_batches = sum(n for n, _, _ in by_status.values())
    checked = sum(rows for _, rows, _ in by_status.values())
    quarantined = sum(q for _, _, q in by_status.values())
    accepted = by_status.get("accepted", (0, 0, 0))
    refused = by_status.get("rejected", (0, 0, 0))[0]
    why = f" ({', '.join(f'{visible(rule)} {n}' for rule, n in rules)})" if rules else ""
    lines = [
        f"Raw gate, batches landed {day}: {n_batches} batches, {checked:,} rows checked, "
        f"{quarantined:,} quarantined{why}, {refused} batches refused; "
        f"{accepted[1] - accepted[2]:,} rows passed to the build."
    ]
    if mart and mart[0]:
        total, passed, warned = mart
        lines.append(
            f"Mart gate on build_{day:%Y%m%d}: {passed}/{total} expectations passed"
            + (f", {warned} warnings" if warned else "")
            + "."
        )
    return "\n".join(lines)

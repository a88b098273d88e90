"""What the gate did, for people: the quarantine of a feed and date, and a day's gate summary."""

from __future__ import annotations

from datetime import date

import psycopg


def quarantine_listing(conninfo: str, day: date | None = None, feed: str | None = None, limit: int = 50) -> str:
    """Batches landed on `day` (all days if None) for `feed` (all if None): their fate, then every
    quarantined row (file, row, column, rule, value), enough to fix the source and send it again."""
    where = ("where (%(day)s::date is null or m.logical_date = %(day)s)"
             " and (%(feed)s::text is null or m.feed = %(feed)s)")
    params = {"day": day, "feed": feed, "limit": limit}
    with psycopg.connect(conninfo) as conn:
        batches = conn.execute(
            f"""select m.logical_date, m.feed, m.source_file, m.batch_id, m.status, m.rows,
                       (select count(distinct q.source_row) from dq.quarantine q where q.batch_id = m.batch_id),
                       m.reason
                from raw.landing_manifest m {where} order by m.logical_date, m.feed, m.landed_at""", params).fetchall()
        rows = conn.execute(
            f"""select m.feed, q.source_file, q.source_row, q.column_name, q.rule, q.value, q.detail
                from dq.quarantine q join raw.landing_manifest m using (batch_id) {where}
                order by m.feed, q.source_file, q.source_row, q.rule limit %(limit)s""", params).fetchall()
        total = conn.execute(
            f"select count(*) from dq.quarantine q join raw.landing_manifest m using (batch_id) {where}",
            params).fetchone()
    scope = f"{feed or 'every feed'}, {'landed ' + day.isoformat() if day else 'every date'}"
    if not batches:
        return f"No batch landed ({scope})."
    out = [f"Batches ({scope}):", f"  {'date':<10}  {'feed':<24}  {'status':<8}  {'rows':>7}  {'quarant.':>8}  file"]
    for d, f, src, _bid, status, n, quarantined, reason in batches:
        out.append(f"  {d}  {f:<24}  {status:<8}  {n if n is not None else '-':>7}  {quarantined:>8}  {src}")
        if status == "rejected" and reason:
            out.append(f"      refused: {reason.splitlines()[0][:300]}")
    n_total = total[0] if total else 0
    out.append("")
    out.append(f"Quarantined rows: {n_total} rule breaks" + (f" (first {limit} shown)" if n_total > limit else ""))
    for f, src, row, col, rule, value, detail in rows:
        shown = "∅" if value is None else repr(value if len(value) <= 60 else value[:57] + "...")
        out.append(f"  {f} {src} row {row}, column {col}: {rule} — {detail}; value {shown}")
    return "\n".join(out)


def gate_summary(conninfo: str, day: date) -> str:
    """One paragraph: rows checked, quarantined and refused for batches landed on `day`; the mart
    gate's last result for the day's build; what was published."""
    with psycopg.connect(conninfo) as conn:
        b = conn.execute(
            """select count(*), coalesce(sum(rows), 0), count(*) filter (where status = 'rejected'),
                      (select count(distinct (q.batch_id, q.source_row)) from dq.quarantine q
                       join raw.landing_manifest m2 using (batch_id) where m2.logical_date = %s)
               from raw.landing_manifest where logical_date = %s""", (day, day)).fetchone()
        rules = conn.execute(
            """select q.rule, count(*) from dq.quarantine q join raw.landing_manifest m using (batch_id)
               where m.logical_date = %s group by 1 order by 2 desc""", (day,)).fetchall()
        mart = conn.execute(
            """select count(*), count(*) filter (where success), count(*) filter (where not success
                      and severity = 'warning')
               from dq.validation_runs
               where run_id = (select run_id from dq.validation_runs where target = %s
                               order by validated_at desc limit 1)""",
            (f"build_{day:%Y%m%d}.fct_target_progress",)).fetchone()
    batches, rows, refused, quarantined = b if b else (0, 0, 0, 0)
    lines = [f"Gate for {day}: {batches} new batches, {rows:,} rows checked, {quarantined:,} rows quarantined"
             + (f" ({', '.join(f'{r} {n}' for r, n in rules)})" if rules else "")
             + f", {refused} batches refused; {rows - quarantined:,} rows passed to the build."]
    if mart and mart[0]:
        total, passed, warned = mart
        lines.append(f"Mart gate: {passed}/{total} expectations passed"
                     + (f" ({warned} warnings)" if warned else "") + ".")
    return "\n".join(lines)

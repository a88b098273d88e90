"""Row rules: route each row of a loaded batch that breaks a rule to dq.quarantine, with the rule.

The rules come from the feed registry (required, check, not_future, vocabularies, date_order,
natural key), plus extra_cells (a CSV record with cells past its header, as copy_batch found it),
and run inside PostgreSQL: a first pass of two plain SELECTs (parallel workers; candidates_query)
finds every row that may break a rule, and ONE SQL statement judges those (`statement`: a row per
broken rule; the whole batch when the candidates are too many to list). Values are judged the
way staging will read them, through the same util.* functions (warehouse/functions.sql), so a row
that passes here parses there. Quarantined rows stay in raw
as sent — nothing is lost — and staging skips them; the raw GX suite then gates what is left.

Each row carries the rules it broke, and only those: no rule fires as a consequence of another
rule's failure. A blank value breaks `required` only (its check, vocabulary and date rules judge
values that are present); an unreadable date breaks its check only (future_date and date_order
judge dates that parse); a row with extra_cells breaks that rule only (its cells may have shifted
into the wrong columns, so no column is judged on it: the source fixes the row and sends it again);
and duplicate_key judges only keys that are present and valid — a blank or invalid key part is
that column's `required` or check, never a duplicate of the other blank keys.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
from psycopg import sql

from greencert import settings
from greencert.feeds import Column, Feed

V = "util.clean_text({col})"  # the value as staging reads it

# check -> (SQL that is true when the cleaned value {v} is acceptable, what the rule says)
CHECKS: dict[str, tuple[str, str]] = {
    "date": ("util.parse_date({v}) is not null", "a date (2023-05-01, 2023/5/1, 2023年5月1日, 20230501, Excel serial)"),
    "timestamp": ("util.parse_timestamp({v}) is not null", "a date or date and time"),
    "number": ("coalesce(util.parse_number({v}) >= 0, false)", "a non-negative number"),
    "year": ("{v} ~ '^[12][0-9]{{3}}$'", "a four-digit year"),
    "uscc": ("util.is_valid_uscc(upper({v}))", "a 统一社会信用代码 with a valid check character (GB 32100-2015)"),
    "org_id": (
        "upper(replace({v}, '-', '')) = '000000000' or util.is_valid_uscc(upper({v}))"
        " or util.is_valid_org_code(upper({v}))",
        "a valid 统一社会信用代码, a valid 组织机构代码 (GB 11714) or 000000000",
    ),
    "region_code": ("{v} ~ '^3205[0-9]{{2}}$'", "a Suzhou 行政区划代码 (3205xx)"),
    "cert_no": ("upper({v}) ~ '^[0-9A-Z][0-9A-Z/()-]*$'", "a certificate number: letters, digits, / ( ) - only"),
    "product_code": ("upper({v}) ~ '^LB-[0-9]{{2}}-[0-9]{{10}}[A-Z]$'", "a green-food product code LB-xx-yymmnnnnnnA"),
    "enterprise_code": ("upper({v}) ~ '^GF[0-9]{{12}}$'", "a green-food enterprise code GF + 12 digits"),
}


@dataclass(frozen=True)
class Rule:
    column: str | None
    rule: str
    broken: str  # SQL, true when the row breaks the rule
    value: str  # SQL, the offending value as sent
    detail: str  # SQL text expression, the message


def _lit(text: str) -> str:
    return sql.Literal(text).as_string()


def _day(feed: Feed, column: str, v: str) -> str:
    """SQL: the column's cleaned value {v} read as a date, the way its check reads it (null if unreadable)."""
    return f"util.parse_timestamp({v})::date" if feed.column(column).check == "timestamp" else f"util.parse_date({v})"


def key_present(feed: Feed, alias: str = "") -> str:
    """SQL on the raw row (columns unqualified, or of `alias`): true when every natural-key part is
    present and passes its own check, and the row's cells are where the header says (no extra cells)
    — the only keys duplicate_key judges; any other key already broke `required`, its check or
    extra_cells."""
    at = f"{alias}." if alias else ""
    parts = [f"{at}source_extra is null"]
    for name in feed.natural_key:
        v = V.format(col=at + sql.Identifier(name).as_string())
        parts.append(f"{v} is not null")
        check = feed.column(name).check
        if check:
            parts.append(f"coalesce({CHECKS[check][0].format(v=v)}, false)")
    return " and ".join(parts)


def rules(feed: Feed) -> list[Rule]:
    """Every row rule of the feed, in the order a person would check them. Column rules judge only
    rows whose cells are in place (r.source_extra is null) and present values (see the module doc)."""
    out: list[Rule] = []
    placed = "r.source_extra is null"
    for c in feed.columns:
        col = f"r.{sql.Identifier(c.name).as_string()}"
        v = V.format(col=col)
        header = c.headers[0]
        if c.required:
            out.append(
                Rule(c.name, "required", f"{placed} and {v} is null", col, _lit(f"{header} ({c.name}) is empty"))
            )
        if c.check:
            ok, says = CHECKS[c.check]
            out.append(
                Rule(
                    c.name,
                    c.check,
                    f"{placed} and {v} is not null and not coalesce({ok.format(v=v)}, false)",
                    col,
                    _lit(f"{header} ({c.name}) is not {says}"),
                )
            )
        if c.not_future:
            day = _day(feed, c.name, v)
            # the year first (text): a plain comparison spares the parse for all but this year's dates;
            # an unreadable date is its check's business (coalesce: never future_date too)
            out.append(
                Rule(
                    c.name,
                    "future_date",
                    f"case when {v} is null or not ({placed}) "
                    f"or left({v}, 4) < r.landed_year then false "
                    f"else coalesce({day} > r.landed_on, false) end",
                    col,
                    f"{_lit(f'{header} ({c.name}) is after the day the file was landed (')} || r.landed_on "
                    f"|| {_lit('): a date still to come')}",
                )
            )
        if c.name in feed.vocabularies:
            values = feed.vocabularies[c.name]
            in_set = ", ".join(_lit(x) for x in values)
            out.append(
                Rule(
                    c.name,
                    "vocabulary",
                    f"{placed} and {v} is not null and {v} not in ({in_set})",
                    col,
                    _lit(f"{header} ({c.name}) is not one of {' / '.join(values)}"),
                )
            )
    for earlier, later in feed.date_order:
        # both dates must read (an unreadable one is its check's business): coalesce(null < x) is false
        a = _day(feed, earlier, V.format(col="r." + earlier))
        b = _day(feed, later, V.format(col="r." + later))
        out.append(
            Rule(
                later,
                "date_order",
                f"{placed} and coalesce({b} < {a}, false)",
                f"r.{earlier} || ' > ' || r.{later}",
                _lit(
                    f"{feed.column(later).headers[0]} ({later}) is before {feed.column(earlier).headers[0]} ({earlier})"
                ),
            )
        )
    out.append(
        Rule(
            None,
            "extra_cells",
            "r.source_extra is not null",
            "r.source_extra",
            _lit(
                "the row has more cells than the header (an unquoted comma in a cell?): its values "
                "may have shifted, so no column of it is judged; the value is what lay past the header"
            ),
        )
    )
    keys = ", ".join(feed.natural_key)
    out.append(
        Rule(
            keys,
            "duplicate_key",
            "r.key_present and r.key_copies > 1 and (r.key_conflicts or r.key_rank > 1)",
            "r.key_text",
            f"case when r.key_conflicts then {_lit(f'natural key ({keys}) sent ')} || r.key_copies "
            f"|| {_lit(' times in this file with different values: every copy quarantined')} "
            f"else {_lit(f'natural key ({keys}) repeated by an identical row: the first copy stands')} end",
        )
    )
    return out


def statement(feed: Feed, candidates: bool = False) -> str:
    """The INSERT that quarantines one batch (parameter: batch_id); with `candidates`, only the rows
    whose source_row is in the parameter `rows` (int[]: what candidates_query found) are judged."""
    only = " and source_row = any(%(rows)s::int[])" if candidates else ""
    table = sql.Identifier("raw", feed.name).as_string()
    key = ", ".join(f"upper(util.clean_text({sql.Identifier(k).as_string()}))" for k in feed.natural_key)
    row_hash = "md5(row(" + ", ".join(sql.Identifier(c.name).as_string() for c in feed.columns) + ")::text)"
    checks = rules(feed)
    values = ",\n            ".join(
        f"({_lit(r.column) if r.column else 'null'}, {_lit(r.rule)}, {r.broken}, {r.value}, {r.detail})" for r in checks
    )
    return f"""
        insert into dq.quarantine (feed, batch_id, source_file, source_row, column_name, rule, value, detail)
        select {_lit(feed.name)}, r.batch_id, r.source_file, r.source_row, v.column_name, v.rule, left(v.value, 1000),
               v.detail
        from (
            select t.*,
                   to_char(t.landed_on, 'YYYY') as landed_year,
                   concat_ws(' / ', {key}) as key_text,
                   count(*) over key_window as key_copies,
                   min(row_hash) over key_window <> max(row_hash) over key_window as key_conflicts,
                   row_number() over (key_window order by source_row) as key_rank
            from (select *, {row_hash} as row_hash, {key_present(feed)} as key_present, (
                      select (m.landed_at at time zone {_lit(settings.TIMEZONE)})::date
                      from raw.landing_manifest as m where m.batch_id = %(batch_id)s
                  ) as landed_on
                  from {table} where batch_id = %(batch_id)s{only}) as t
            window key_window as (partition by key_present, {key})  -- absent keys: never judged
        ) as r
        cross join lateral (values
            {values}
        ) as v (column_name, rule, broken, value, detail)
        where v.broken
    """


# The first pass: a row that is plainly fine breaks no rule, and most rows are. "Plainly" is judged on
# the text as sent, by patterns under which util.clean_text leaves the value as it is (ASCII with no
# blank at either end, or a vocabulary word) and the check can only pass: an ISO date of 1900–2999
# that exists (29 February goes the exact way), a code of the check's own alphabet, a valid USCC.
# Every other row — and every row whose key is sent more than once — is a candidate, judged by the
# exact statement above; a pattern may only ever send a good row there, never wave a bad one through,
# so the quarantine is the same row for row (tests/reliability/test_rule_reasons.py and others).
PLAIN: dict[str, str] = {  # check -> SQL on the raw value {x}: true only if the cleaned value passes the check
    "number": "{x} ~ '^[0-9]+([.][0-9]+)?$'",
    "year": "{x} ~ '^[12][0-9]{{3}}$'",
    "uscc": "util.is_valid_uscc({x})",
    "org_id": "(util.is_valid_uscc({x}) or util.is_valid_org_code({x}) or replace({x}, '-', '') = '000000000')",
    # one hashed lookup in the 100 codes 320500–320599, where the pattern cost twice the scan
    "region_code": "{x} = any('{{" + ",".join(f"3205{n:02}" for n in range(100)) + "}}'::text[])",
    "cert_no": "{x} ~ '^[0-9A-Za-z][0-9A-Za-z/()-]*$'",
    "product_code": "{x} ~ '^LB-[0-9]{{2}}-[0-9]{{10}}[A-Z]$'",
    "enterprise_code": "{x} ~ '^GF[0-9]{{12}}$'",
}
# A plain date is YYYY-MM-DD, a day that exists, of 1950–2099: one lookup of the text as sent in the
# set of those days (PLAIN_DATES, a parameter of the first pass; PostgreSQL hashes it once per query),
# where four string operations and two lookups per value cost twice as much and sent every 29
# February the exact way. A plain timestamp is such a date, alone or with " HH:MI" or " HH:MI:SS" of
# a real time of day (PLAIN_TIMES). Any other date — of another year, or written otherwise — goes
# the exact way (util.parse_date).
_FIRST_DAY, _LAST_DAY = date(1950, 1, 1), date(2099, 12, 31)
PLAIN_DATES = [(_FIRST_DAY + timedelta(days=n)).isoformat() for n in range((_LAST_DAY - _FIRST_DAY).days + 1)]
PLAIN_TIMES = [f" {h:02}:{m:02}" for h in range(24) for m in range(60)] + [
    f" {h:02}:{m:02}:{sec:02}" for h in range(24) for m in range(60) for sec in range(60)
]
PLAIN_DAY_PARAMS = {"plain_dates": PLAIN_DATES, "plain_times": PLAIN_TIMES}
DATED = {"date", "timestamp"}  # checks whose plain form starts with the ISO date (YYYY-MM-DD)
PLAIN["date"] = "{x} = any(%(plain_dates)s::text[])"
PLAIN["timestamp"] = (
    "left({x}, 10) = any(%(plain_dates)s::text[])"
    " and (length({x}) = 10 or substr({x}, 11) = any(%(plain_times)s::text[]))"
)


# a value that starts with one of these is not blank once cleaned (NFKC keeps them as they are, and
# btrim strips blanks only): its first character's code point (ascii(): no scan of the value, where a
# regular expression converted all of it first — a third of a second per column per million rows)
# is a digit, an ASCII letter or a CJK unified ideograph (U+4E00–U+9FFF); any other value goes the exact way
PRESENT = (
    "(ascii({x}) between 19968 and 40959 or ascii({x}) between 48 and 57"
    " or ascii({x}) between 65 and 90 or ascii({x}) between 97 and 122)"
)
# candidates past this many: the exact statement judges the whole batch (no list of rows is shipped)
MAX_CANDIDATES = 100_000


def _stable(word: str) -> bool:
    """util.clean_text leaves the word as it is (NFKC already, no blank at either end)."""
    import unicodedata

    return bool(word) and unicodedata.normalize("NFKC", word) == word and word.strip(" \t\r\n") == word


def stable_words(feed: Feed, column: str) -> str | None:
    """SQL list of the column's vocabulary words that are their own cleaned value (_stable): a value
    sent as one of them is in the vocabulary as it is (None: no such word)."""
    words = [w for w in feed.vocabularies[column] if _stable(w)]
    return ", ".join(_lit(w) for w in words) if words else None


# Checks that cost more per value than a hash lookup (the USCC and 组织机构代码 check characters: two
# dozen string operations a value, half the first pass when run per row): judged once per distinct
# value the batch holds (distinct_values_query), each row then only looked up in the few values that
# failed. A certificates batch names each organisation many times (1 M rows: ~10 k org_ids).
DISTINCT_CHECKS = {"uscc", "org_id"}


def _column_test(feed: Feed, c: Column, x: str) -> str | None:
    """SQL on the raw value {x} of column c: true only when the cleaned value breaks none of the
    column's rules (None: the column has no rule)."""
    tests = []
    if c.check:
        tests.append(PLAIN[c.check].format(x=x))
    if c.name in feed.vocabularies:
        words = stable_words(feed, c.name)
        tests.append(f"{x} in ({words})" if words else "false")
    if c.not_future:  # a plain date or timestamp (its check above) is its first ten characters
        tests.append(f'left({x}, 10) <= t.landed_text collate "C"' if c.check in DATED else "false")
    if not tests and not c.required:
        return None
    if not tests:
        tests.append(PRESENT.format(x=x))
    test = " and ".join(tests)
    return f"({test})" if c.required else f"(coalesce({x}, '') = '' or ({test}))"


def distinct_columns(feed: Feed) -> list[str]:
    """The columns whose rules are judged once per distinct value (see DISTINCT_CHECKS)."""
    return [c.name for c in feed.columns if c.check in DISTINCT_CHECKS and not c.not_future]


def distinct_values_query(feed: Feed, column: str) -> str:
    """The first pass, per column of distinct_columns (parameters: batch_id, PLAIN_DAY_PARAMS): how many distinct
    values of the column the batch holds that are not plainly fine (_column_test), and which (null
    past MAX_CANDIDATES). A null value is judged by the column's `required` in candidates_query."""
    table = sql.Identifier("raw", feed.name).as_string()
    col = sql.Identifier(column).as_string()
    test = _column_test(feed, feed.column(column), "d.x")
    return f"""
        select count(*), case when count(*) <= {MAX_CANDIDATES} then coalesce(array_agg(d.x), '{{}}') end
        from (select distinct t.{col} as x from {table} as t where t.batch_id = %(batch_id)s
              and t.{col} is not null offset 0) as d  -- offset 0: the test stays above the distinct
        where not coalesce({test}, false)
    """


def plainly_fine(feed: Feed, judged: frozenset[str] = frozenset()) -> str:
    """SQL on a raw row (columns of alias t, the landing day as text in t.landed_text): true only when
    the row breaks none of the column rules, date_order or extra_cells (duplicate_key: see
    candidates_query). A column in `judged` had its distinct values judged already: its value is
    looked up in the parameter `not_plain_<column>` (text[]: the values that were not plainly fine)."""
    parts = ["t.source_extra is null"]
    for c in feed.columns:
        x = f"t.{sql.Identifier(c.name).as_string()}"
        if c.name in judged:  # a null value: fine unless required (as _column_test on null)
            parts.append(
                f"({x} is not null and {x} <> all(%(not_plain_{c.name})s::text[]))"
                if c.required
                else f"({x} is null or {x} <> all(%(not_plain_{c.name})s::text[]))"
            )
            continue
        test = _column_test(feed, c, x)
        if test is not None:
            parts.append(test)
    for earlier, later in feed.date_order:  # both plain (above) or one absent: compare as text
        a, b = (f"t.{sql.Identifier(n).as_string()}" for n in (earlier, later))
        dated = {feed.column(earlier).check, feed.column(later).check} <= DATED
        parts.append(
            f'({a} is null or {b} is null or left({b}, 10) >= left({a}, 10) collate "C")' if dated else "false"
        )
    # null anywhere (a value absent where the pattern needs one) is not plainly fine
    return "coalesce(" + "\n              and ".join(parts) + ", false)"


def _key_text(feed: Feed, alias: str) -> str:
    """SQL: the natural key as staging reads it, as a 64-bit hash of one text (equal keys, equal
    hashes; the rare collision only makes a few more candidates). Grouping millions of bigints fits
    in memory where the texts spilled to disk (17 s at 5 M rows)."""
    keys = [f"upper(util.clean_text({alias}.{sql.Identifier(k).as_string()}))" for k in feed.natural_key]
    text = keys[0] if len(keys) == 1 else f"row({', '.join(keys)})::text"
    return f"hashtextextended({text}, 0)"


def repeated_keys_query(feed: Feed) -> str:
    """The first pass, part one (parameter: batch_id): the keys sent more than once, as hashes
    (_key_text), and how many (the list is null past MAX_CANDIDATES). Every row holding one is a
    candidate — present and valid or not (more than duplicate_key judges: the exact statement sorts
    them out), so that no copy of a repeated key is missing from its window there."""
    table = sql.Identifier("raw", feed.name).as_string()
    key = _key_text(feed, "r")
    return f"""
        select count(*), case when count(*) <= {MAX_CANDIDATES} then coalesce(array_agg(k), '{{}}') end
        from (select {key} as k from {table} as r where r.batch_id = %(batch_id)s
              group by 1 having count(*) > 1) as repeated
        where k is not null
    """


def candidates_query(feed: Feed, repeated: bool, judged: frozenset[str] = frozenset()) -> str:
    """The first pass, part two (parameters: batch_id, PLAIN_DAY_PARAMS, `repeated`: the hashes of the keys sent more
    than once, and not_plain_<column> for each column of `judged`, see plainly_fine): how many rows
    may break a rule — not plainly fine, or a repeated key — and their source_row (null past
    MAX_CANDIDATES). A plain SELECT of aggregates, so PostgreSQL runs it with parallel workers (an
    INSERT … SELECT never does)."""
    table = sql.Identifier("raw", feed.name).as_string()
    again = f" or {_key_text(feed, 't')} = any(%(repeated)s::bigint[])" if repeated else ""
    return f"""
        select count(*), case when count(*) <= {MAX_CANDIDATES} then coalesce(array_agg(t.source_row), '{{}}') end
        from (select *, (select to_char((m.landed_at at time zone {_lit(settings.TIMEZONE)})::date, 'YYYY-MM-DD')
                         from raw.landing_manifest as m where m.batch_id = %(batch_id)s) as landed_text
              from {table} where batch_id = %(batch_id)s) as t
        where not {plainly_fine(feed, judged)}{again}
    """


def _repeated(conninfo: str, feed: Feed, batch_id: str) -> list[int] | None:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(repeated_keys_query(feed), {"batch_id": batch_id}).fetchone()
        assert row is not None  # an aggregate: always one row
        return row[1]


def candidates(conn: psycopg.Connection, feed: Feed, batch_id: str, conninfo: str) -> list[int] | None:
    """The source_row of every row of the batch that may break a rule (None: too many to list, judge
    the whole batch). The repeated keys are found on a connection of their own (`conninfo`) while
    `conn` finds the rows that are not plainly fine (the server has cores for both: the grouping is
    one process, the rest parallel workers); only a batch that repeats a key then has its rows
    listed again with those keys."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        beside = pool.submit(_repeated, conninfo, feed, batch_id)
        not_plain: dict[str, list[str]] = {}  # judged per distinct value; too many: per row, as the rest
        for column in distinct_columns(feed):
            row = conn.execute(
                distinct_values_query(feed, column), {"batch_id": batch_id, **PLAIN_DAY_PARAMS}
            ).fetchone()
            assert row is not None  # an aggregate: always one row
            _, values = row
            if values is not None:
                not_plain[column] = values
        judged = frozenset(not_plain)
        params: dict[str, object] = {
            "batch_id": batch_id,
            "repeated": None,
            **PLAIN_DAY_PARAMS,
            **{f"not_plain_{column}": values for column, values in not_plain.items()},
        }
        row = conn.execute(candidates_query(feed, False, judged), params).fetchone()
        assert row is not None  # an aggregate: always one row
        _, rows = row
        params["repeated"] = beside.result()
        if params["repeated"] is None:
            return None
        if params["repeated"]:  # listed without them: again, with every row of a repeated key
            row = conn.execute(candidates_query(feed, True, judged), params).fetchone()
            assert row is not None  # an aggregate: always one row
            _, rows = row
    return None if rows is None else sorted(rows)


@dataclass(frozen=True)
class Quarantined:
    batch_id: str
    rows_checked: int
    rows_quarantined: int
    by_rule: dict[str, int]


def quarantine_batch(feed: Feed, conninfo: str, batch_id: str) -> Quarantined:
    """Apply the feed's row rules to one batch (again, if rerun: the batch's old entries go first)."""
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute("delete from dq.quarantine where batch_id = %s", (batch_id,))
        rows = candidates(conn, feed, batch_id, conninfo)
        if rows is None:  # too many to list: the exact rules on the whole batch
            conn.execute(statement(feed), {"batch_id": batch_id})
        elif rows:  # the exact rules on the candidates only (none: nothing to judge)
            conn.execute(statement(feed, candidates=True), {"batch_id": batch_id, "rows": rows})
        checked = conn.execute(
            sql.SQL("select count(*) from {} where batch_id = %s").format(sql.Identifier("raw", feed.name)), (batch_id,)
        ).fetchone()
        by_rule: dict[str, int] = dict(
            conn.execute(
                "select rule, count(*) from dq.quarantine where batch_id = %s group by rule order by rule", (batch_id,)
            ).fetchall()
        )
        quarantined = conn.execute(
            "select count(distinct source_row) from dq.quarantine where batch_id = %s", (batch_id,)
        ).fetchone()
    return Quarantined(batch_id, checked[0] if checked else 0, quarantined[0] if quarantined else 0, by_rule)


def clean_rows_query(feed: Feed, batch_id: str, any_quarantined: bool = True) -> str:
    """The batch's rows that were not quarantined, for the GX gate: each value null exactly where
    staging's is; the natural key and the vocabulary columns as staging reads them; any other value
    as sent where it is plainly present (PRESENT: clean_text would keep it non-null, and the suite
    asks of these columns only whether they are; a third of the suite's time was clean_text on
    Chinese names, for a null test), cleaned otherwise. The natural key in the "C" collation: GX's
    uniqueness sorts the batch by it, and byte order sorts a quarter faster than the database's
    C.UTF-8 through strcoll (equality, all it asks, is the same). `any_quarantined` False (the row
    rules sent none of the batch's rows to quarantine): no anti-join with dq.quarantine."""

    def col(c: Column) -> str:
        name = sql.Identifier(c.name).as_string()
        cleaned = V.format(col=f"r.{name}")
        if c.name in feed.natural_key:
            return f'{cleaned} collate "C" as {name}'
        if c.name in feed.vocabularies:
            words = stable_words(feed, c.name)
            if not words:
                return f"{cleaned} as {name}"
            return f"case when r.{name} in ({words}) then r.{name} else {cleaned} end as {name}"
        return f"case when {PRESENT.format(x=f'r.{name}')} then r.{name} else {cleaned} end as {name}"

    cols = ", ".join(col(c) for c in feed.columns)
    table = sql.Identifier("raw", feed.name).as_string()
    kept = """ and not exists (
            select 1 from dq.quarantine as q where q.batch_id = r.batch_id and q.source_row = r.source_row)"""
    return f"""select {cols}, r.batch_id, r.source_row from {table} as r
        where r.batch_id = {_lit(batch_id)}{kept if any_quarantined else ""}"""

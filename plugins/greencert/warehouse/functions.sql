-- The warehouse's shared SQL functions, in schema `util`: ONE definition of how a source's text is
-- cleaned and parsed, used both by the row rules that quarantine bad rows at load time
-- (greencert.quality.row_rules) and by dbt staging (its macros call these). If the two disagreed,
-- a row could pass the quarantine and still turn into a null in staging.
-- Short checks are `language sql` bodies, which PostgreSQL inlines into the queries that call them.
-- Names: a SQL-standard body (`return …`) is bound when it is created (the admin's pinned search_path),
-- so a caller's search_path cannot redirect it; a PL/pgSQL body is bound when it runs, so those carry
-- `set search_path = pg_catalog, pg_temp` (and name util.* by schema).
-- Created by bootstrap (create or replace: safe to run again); tests/unit keeps the code checks in
-- step with the stand-ins' plugins/standins/uscc.py (the sample data's USCCs).

-- Full-width digits, letters, brackets and spaces to half-width (NFKC), trimmed; empty -> null.
-- normalize() costs a microsecond a value; most values are NFKC already (all ASCII is, and the
-- quick check `is nfkc normalized` says so of most CJK text at a fraction of that), so those are
-- taken as they are: the same result, normalize() only where it changes something.
create or replace function util.clean_text(value text) returns text
language sql immutable parallel safe
return nullif(btrim(case when octet_length(value) = length(value) or value is nfkc normalized then value
                         else normalize(value, nfkc) end, E' \t\r\n'), '');

-- Dates arrive as 2023-05-01, 2023/5/1, 2023年5月1日, 20230501 or an Excel serial (days since
-- 1899-12-30). Anything else, and an impossible date such as 2023-02-30, is null.
-- PL/pgSQL, so the argument is evaluated once (an inlined SQL body would repeat it per branch);
-- the common ISO form takes a path without a capturing regex (20x faster on 50 k rows).
create or replace function util.parse_date(value text) returns date
language plpgsql immutable parallel safe
set search_path = pg_catalog, pg_temp as $$
declare
    y int;
    m int;
    d int;
    parts text[];
begin
    if value is null then
        return null;
    end if;
    if value ~ '^\d{4}-\d\d-\d\d( |$)' then
        y := substr(value, 1, 4)::int;
        m := substr(value, 6, 2)::int;
        d := substr(value, 9, 2)::int;
    else
        parts := regexp_match(value,
            '^(\d{4})(?:[-/.](\d{1,2})[-/.](\d{1,2})(?: .*)?|年(\d{1,2})月(\d{1,2})日|(\d{2})(\d{2}))$');
        if parts is null then
            if value ~ '^\d{5}(\.0+)?$' then
                return date '1899-12-30' + floor(value::numeric)::int;
            end if;
            return null;
        end if;
        y := parts[1]::int;
        m := coalesce(parts[2], parts[4], parts[6])::int;
        d := coalesce(parts[3], parts[5], parts[7])::int;
    end if;
    if y between 1900 and 2999 and m between 1 and 12 and d between 1 and 28
       or y between 1900 and 2999 and m between 1 and 12 and d between 29 and 31
          and d <= extract(day from make_date(y, m, 1) + interval '1 month - 1 day') then
        return make_date(y, m, d);
    end if;
    return null;
end
$$;

-- Date and time (2024-01-10 09:00[:00[.123]], T allowed) or a date as above; else null.
create or replace function util.parse_timestamp(value text) returns timestamp
language plpgsql immutable parallel safe
set search_path = pg_catalog, pg_temp as $$
declare
    d date;
    hh int;
    mi int;
    ss numeric;
begin
    if value is null then
        return null;
    end if;
    if value !~ '^\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$' then
        return util.parse_date(value);
    end if;
    d := util.parse_date(split_part(replace(value, 'T', ' '), ' ', 1));
    hh := split_part(split_part(replace(value, 'T', ' '), ' ', 2), ':', 1)::int;
    mi := split_part(split_part(replace(value, 'T', ' '), ' ', 2), ':', 2)::int;
    ss := coalesce(nullif(split_part(split_part(replace(value, 'T', ' '), ' ', 2), ':', 3), ''), '0')::numeric;
    if d is null or hh > 23 or mi > 59 or ss >= 60 then
        return null;
    end if;
    return d + make_interval(hours => hh, mins => mi, secs => ss);
end
$$;

-- Numbers arrive with thousands separators ("4,200"); anything else non-numeric is null.
create or replace function util.parse_number(value text) returns numeric
language sql immutable parallel safe
return (case
    when replace(value, ',', '') ~ '^-?\d+(\.\d+)?$' then cast(replace(value, ',', '') as numeric)
end);

-- 统一社会信用代码 (GB 32100-2015): 18 characters from the charset below; character 18 is
-- 31 - (sum of value(c_i) * w_i mod 31), 31 -> 0. The sum is written out term by term (weights
-- 1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28): an expression PostgreSQL inlines, where a
-- generate_series subquery was a subplan run per value (5x slower on a batch).
create or replace function util.is_valid_uscc(code text) returns boolean
language sql immutable parallel safe
return coalesce(
    code ~ '^[0-9ABCDEFGHJKLMNPQRTUWXY]{18}$'
    and substr('0123456789ABCDEFGHJKLMNPQRTUWXY', ((31 - ((
        (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 1, 1)) - 1) * 1
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 2, 1)) - 1) * 3
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 3, 1)) - 1) * 9
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 4, 1)) - 1) * 27
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 5, 1)) - 1) * 19
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 6, 1)) - 1) * 26
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 7, 1)) - 1) * 16
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 8, 1)) - 1) * 17
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 9, 1)) - 1) * 20
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 10, 1)) - 1) * 29
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 11, 1)) - 1) * 25
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 12, 1)) - 1) * 13
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 13, 1)) - 1) * 8
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 14, 1)) - 1) * 24
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 15, 1)) - 1) * 10
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 16, 1)) - 1) * 30
        + (strpos('0123456789ABCDEFGHJKLMNPQRTUWXY', substr(code, 17, 1)) - 1) * 28
    ) % 31)) % 31) + 1, 1) = substr(code, 18, 1),
    false);

-- 组织机构代码 (GB 11714-1997): `76003808-7` or `760038087`; check digit 11 - (sum mod 11),
-- 10 -> X, 11 -> 0 (the 11 - (sum mod 11) + 1-th character of '0123456789X0'); weights
-- 3,7,9,10,5,8,4,2. The placeholder 000000000 is not a code.
create or replace function util.is_valid_org_code(code text) returns boolean
language sql immutable parallel safe
return coalesce(
    code ~ '^[0-9A-Z]{8}-?[0-9X]$' and replace(code, '-', '') <> '000000000'
    and substr('0123456789X0', 11 - ((
        (strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(code, 1, 1)) - 1) * 3
        + (strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(code, 2, 1)) - 1) * 7
        + (strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(code, 3, 1)) - 1) * 9
        + (strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(code, 4, 1)) - 1) * 10
        + (strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(code, 5, 1)) - 1) * 5
        + (strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(code, 6, 1)) - 1) * 8
        + (strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(code, 7, 1)) - 1) * 4
        + (strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(code, 8, 1)) - 1) * 2
    ) % 11) + 1, 1) = right(code, 1),
    false);

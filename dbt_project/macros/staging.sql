{#- The condition "the row's batch is one `taken_by`'s pre-hook (take_new_batches) took in this
    transaction": what an incremental model or a status-history snapshot reads of a feed's
    accepted rows (base_<feed>__accepted_rows), just what is new. -#}
{% macro taken_in_this_transaction(taken_by, batch_id='batch_id') -%}
-- = any(array(...)): evaluated once, so the raw table is read through its batch_id index
-- (an IN subquery let the planner scan every raw row and parse each before the batch filter)
{{ batch_id }} = any(array(
    select taken.batch_id from staging.batches_taken as taken
    where taken.model = '{{ taken_by }}' and taken.taken_in = pg_current_xact_id()
))
{%- endmacro %}

{#- An incremental staging model's input: the feed's accepted rows in the batches its pre-hook
    took in this build (all of them on a first or full build: the pre-hook takes every batch). -#}
{% macro new_accepted_rows(feed) -%}
select * from {{ ref('base_' ~ feed ~ '__accepted_rows') }}
where {{ taken_in_this_transaction(this.identifier) }}
{%- endmacro %}

{#- The latest state per `key` of an incremental staging model: the new rows (`relation`, with
    `columns`, the model's own columns before its derived ones) and, in an incremental run, the row
    the model already holds for each key they mention; the newer wins (latest_per_key), so a night
    costs in proportion to the day's changes, not to the register. -#}
{% macro latest_state_with_held(relation, key, columns, order_first='') -%}
{%- set candidates -%}
    select {{ columns | join(', ') }} from {{ relation }}
    {%- if is_incremental() %}
    union all
    -- the row already held for each key the new batches mention: the newer one wins
    select {{ columns | join(', ') }} from {{ this }}
    where {{ key }} in (select {{ relation }}.{{ key }} from {{ relation }})
    {%- endif %}
{%- endset -%}
{{ latest_per_key('(' ~ candidates ~ ') as candidates', key, order_first) }}
{%- endmacro %}

{#- Pre-hook of an incremental staging model or a status-history snapshot: record in
    staging.batches_taken, in the build's own transaction, the accepted batches of `feed` it has
    not taken before; the model then reads exactly those (taken_in_this_transaction).
    A failed build rolls the record back with the rows, so nothing is skipped. An incremental model
    starts over (emptied, every accepted batch taken again) on --full-refresh, when its table is
    missing, or when a batch it took is no longer accepted (withdrawn by hand): rows of a withdrawn
    batch must leave the latest state. A snapshot keeps its history: what was sent stays recorded. -#}
{% macro take_new_batches(feed) -%}
{%- set incremental = config.get('materialized') == 'incremental' -%}
{%- set relation = adapter.quote(this.schema) ~ '.' ~ adapter.quote(this.identifier) -%}
do $take$
begin
    if to_regclass('{{ relation }}') is null
        {%- if incremental %}
        or {{ 'true' if flags.FULL_REFRESH else 'false' }}
        or exists (
            select 1 from staging.batches_taken as taken
            left join raw.landing_manifest as manifest on taken.batch_id = manifest.batch_id
            where taken.model = '{{ this.identifier }}' and manifest.status is distinct from 'accepted'
        )
        {%- endif %}
    then
        delete from staging.batches_taken where model = '{{ this.identifier }}';
        {%- if incremental %}
        if to_regclass('{{ relation }}') is not null then
            execute 'truncate {{ relation }}';
        end if;
        {%- endif %}
    end if;
end
$take$;
insert into staging.batches_taken (model, batch_id)
select '{{ this.identifier }}', manifest.batch_id
from raw.landing_manifest as manifest
where
    manifest.feed = '{{ feed }}'
    and manifest.status = 'accepted'
    and not exists (
        select 1 from staging.batches_taken as taken
        where taken.model = '{{ this.identifier }}' and taken.batch_id = manifest.batch_id
    )
{%- endmacro %}

{#- Keep one row per natural key: the latest by the given ordering, then by batch and file row. -#}
{% macro latest_per_key(relation, key, order_first='') -%}
select * from (
    select
        *,
        row_number() over (
            partition by {{ key }}
            order by {{ order_first ~ ', ' if order_first }}landed_at desc, source_row desc
        ) as recency
    from {{ relation }}
) as ranked
where recency = 1
{%- endmacro %}

{#- Every (certificate, 更新时间) version in the accepted batches, with its status and who said it
    last (the landing time and file row of the batch's row): the input of a status-history snapshot
    (with `taken_by`, only the batches the snapshot takes in this run, so it costs in proportion to
    what is new). Reading every row of a batch, not only the latest state, means a state that came
    and went between two builds (a missed night, two files in one run) still enters the history.
    A certificate sent without 更新时间 is taken as of its issue date. Two statements of one version
    (the same certificate and 更新时间, in two batches of the run): the later-landed batch's, then the
    later file row — the tie-break of staging (latest_per_key). -#}
{% macro status_versions(feed, issue_date='issue_date', taken_by=none) -%}
select distinct on (cert_no, updated_at)
    cert_no,
    status,
    updated_at,
    landed_at,
    source_row
from (
    select
        upper({{ clean_text('raw_rows.cert_no') }}) as cert_no,
        {{ clean_text('raw_rows.status') }} as status,
        coalesce(
            {{ parse_timestamp(clean_text('raw_rows.updated_at')) }},
            cast({{ parse_date(clean_text('raw_rows.' ~ issue_date)) }} as timestamp)
        ) as updated_at,
        raw_rows.landed_at,
        raw_rows.source_row
    from {{ ref('base_' ~ feed ~ '__accepted_rows') }} as raw_rows
    {%- if taken_by %}
    where {{ taken_in_this_transaction(taken_by, 'raw_rows.batch_id') }}
    {%- endif %}
) as versions
where cert_no is not null and updated_at is not null
order by cert_no asc, updated_at asc, landed_at desc, source_row desc
{%- endmacro %}

{#- Pre-hook of an incremental model derived from another one (`upstream`, whose rows carry the
    batch that last changed them) and from rules (`rules`: the seeds it reads, e.g. the region
    tables): take the batches `upstream` has taken that this model has not, and drop this model's
    rows for the keys those batches changed, so that just those are derived again (the model reads
    the upstream rows of the batches taken in this transaction) — a key that no longer qualifies
    leaves the table. It starts over (emptied, every batch taken again) on --full-refresh, when its
    table is missing, when `upstream` started over since (a batch this model took is no longer
    upstream's, or upstream took it again later), or when the rules changed (staging.rules_applied:
    an md5 of the rules' rows and of the model's own SQL, so an edited model is built afresh, new
    columns included, rather than keeping rows derived the old way). -#}
{% macro take_batches_of(upstream, key, rules=[]) -%}
{%- set relation = adapter.quote(this.schema) ~ '.' ~ adapter.quote(this.identifier) -%}
{%- set fingerprint -%}
md5(concat_ws('|', '{{ model.checksum.checksum }}'
    {%- for rule in rules %},
    (select md5(string_agg(rule_rows::text, E'\n' order by rule_rows::text)) from {{ rule }} as rule_rows)
    {%- endfor %}))
{%- endset -%}
do $take$
begin
    if to_regclass('{{ relation }}') is null
        or {{ 'true' if flags.FULL_REFRESH else 'false' }}
        or exists (
            select 1 from staging.batches_taken as mine
            left join staging.batches_taken as theirs
                on theirs.model = '{{ upstream.identifier }}' and theirs.batch_id = mine.batch_id
            where mine.model = '{{ this.identifier }}' and (theirs.batch_id is null or theirs.taken_in > mine.taken_in)
        )
        or {{ fingerprint }} is distinct from (
            select applied.fingerprint from staging.rules_applied as applied where applied.model = '{{ this.identifier }}'
        )
    then
        delete from staging.batches_taken where model = '{{ this.identifier }}';
        insert into staging.rules_applied (model, fingerprint) values ('{{ this.identifier }}', {{ fingerprint }})
        on conflict (model) do update set fingerprint = excluded.fingerprint, applied_at = now();
        if to_regclass('{{ relation }}') is not null then
            execute 'truncate {{ relation }}';
        end if;
    end if;
end
$take$;
insert into staging.batches_taken (model, batch_id)
select '{{ this.identifier }}', theirs.batch_id
from staging.batches_taken as theirs
where
    theirs.model = '{{ upstream.identifier }}'
    and not exists (
        select 1 from staging.batches_taken as mine
        where mine.model = '{{ this.identifier }}' and mine.batch_id = theirs.batch_id
    );
do $forget$
begin
    if to_regclass('{{ relation }}') is not null then
        execute $sql$
            delete from {{ relation }}
            where {{ key }} in (
                select changed.{{ key }} from {{ upstream }} as changed
                where {{ taken_in_this_transaction(this.identifier, 'changed.batch_id') }}
            )
        $sql$;
    end if;
end
$forget$;
{%- endmacro %}

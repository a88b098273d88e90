{#- The rows of a feed's raw table that came in batches which passed the raw gate, less the rows
    its row rules sent to quarantine, with the time their batch landed (the tie-breaker between
    batches that send the same key). -#}
{% macro accepted_batch_rows(feed) -%}
select
    raw_rows.*,
    manifest.landed_at
from {{ source('raw', feed) }} as raw_rows
inner join {{ source('raw', 'landing_manifest') }} as manifest
    on raw_rows.batch_id = manifest.batch_id
where
    manifest.feed = '{{ feed }}'
    and manifest.status = 'accepted'
    and not exists (
        select 1 from {{ source('dq', 'quarantine') }} as quarantined
        where quarantined.batch_id = raw_rows.batch_id and quarantined.source_row = raw_rows.source_row
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

{#- Every (certificate, 更新时间) version any accepted batch has sent, with its status: the input of
    a status-history snapshot. Reading all batches, not only the latest state, means a state that
    came and went between two builds (a missed night, two files in one run) still enters the history.
    A certificate sent without 更新时间 is taken as of its issue date. -#}
{% macro status_versions(feed, issue_date='issue_date') -%}
select distinct on (cert_no, updated_at)
    cert_no,
    status,
    updated_at
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
    from ({{ accepted_batch_rows(feed) }}) as raw_rows
) as versions
where cert_no is not null and updated_at is not null
order by cert_no asc, updated_at asc, landed_at desc, source_row desc
{%- endmacro %}

{#- The rows of a feed's raw table that came in batches which passed the raw gate, with the time
    their batch landed (the tie-breaker between batches that send the same key). -#}
{% macro accepted_batch_rows(feed) -%}
select
    raw_rows.*,
    manifest.landed_at
from {{ source('raw', feed) }} as raw_rows
inner join {{ source('raw', 'landing_manifest') }} as manifest
    on raw_rows.batch_id = manifest.batch_id
where manifest.feed = '{{ feed }}' and manifest.status = 'accepted'
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

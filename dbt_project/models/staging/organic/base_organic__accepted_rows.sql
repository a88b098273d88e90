-- Generated from plugins/greencert/feeds/registry.yml by `greencert dbt-sources`: edit the registry.
-- The organic rows of batches that passed the raw gate, less the rows its row rules sent to
-- quarantine, with the time their batch landed (staging's tie-breaker between batches). Ephemeral:
-- inlined into the model that reads it, so a filter on batch_id reaches raw's batch_id index.
{{ config(materialized='ephemeral') }}

with

raw_rows as (
    select * from {{ source('organic', 'organic') }}
),

manifest as (
    select * from {{ source('loader', 'landing_manifest') }}
),

quarantine as (
    select * from {{ source('loader', 'quarantine') }}
),

final as (
    select
        raw_rows.*,
        manifest.landed_at
    from raw_rows
    inner join manifest
        on raw_rows.batch_id = manifest.batch_id
    where
        manifest.feed = 'organic'
        and manifest.status = 'accepted'
        and not exists (
            select 1 from quarantine
            where quarantine.batch_id = raw_rows.batch_id and quarantine.source_row = raw_rows.source_row
        )
)

select * from final

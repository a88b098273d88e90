-- The published target progress of every snapshot date, as the publish transaction wrote it.
-- Ephemeral: inlined where it is read, so the bi view over it reads the history table itself
-- (a view in the build schema would be dropped with the build schema after publish).
{{ config(materialized='ephemeral') }}

with

source as (
    select * from {{ source('history', 'target_progress_history') }}
),

final as (
    select
        snapshot_date,
        target_id,
        region_code,
        region_name,
        numerator_value,
        denominator_value,
        actual_value,
        target_value,
        percent_of_target,
        trajectory_value,
        projected_value,
        progress_status,
        build_id,
        published_at
    from source
)

select * from final

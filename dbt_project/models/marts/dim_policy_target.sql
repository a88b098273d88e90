with

targets as (
    select * from {{ ref('policy_targets') }}
),

final as (
    select
        target_id,
        clause,
        indicator_zh,
        metric_en,
        unit_zh,
        comparator,
        target_value,
        baseline_value,
        policy_start,
        deadline,
        source_feeds,
        responsible_departments,
        target_note
    from targets
)

select * from final

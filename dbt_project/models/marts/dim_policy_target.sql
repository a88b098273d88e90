-- The policy's numeric targets (T01–T12) and its tracked indicators without a number (I01–I09): what
-- the policy says (seeds policy_targets, policy_indicators) and the feed each is counted from (its
-- counting rule: dbt_project.yml vars.counting_rules).
with

targets as (
    select * from {{ ref('policy_targets') }}
),

indicators as (
    select * from {{ ref('policy_indicators') }}
),

final as (
    select
        target_id,
        'target' as target_kind,
        clause,
        indicator_zh,
        metric_en,
        unit_zh,
        comparator,
        target_value,
        baseline_value,
        policy_start,
        deadline,
        {{ target_feed('target_id') }} as source_feeds,
        responsible_departments,
        target_note
    from targets
    union all
    select
        target_id,
        'indicator' as target_kind,
        clause,
        indicator_zh,
        metric_en,
        unit_zh,
        null as comparator,
        null as target_value,
        null as baseline_value,
        cast('2022-07-19' as date) as policy_start,
        cast(null as date) as deadline,
        {{ target_feed('target_id') }} as source_feeds,
        responsible_departments,
        target_note
    from indicators
)

select * from final

-- 目标进度: every policy target × every region (and the city) on the as-of date, with the
-- straight-line trajectory from the policy's start to its deadline, the projection of the recent
-- trend to the deadline, and the status they give.
-- Targets whose feeds are not ingested yet appear with no actual and status 未接入.
{#- the facts and their targets come from the one definition, dbt_project.yml vars.counting_rules
    (macros/targets.sql): count facts (fact model -> the targets it answers, one row = one unit
    counted) and ratio facts (fact model -> (target, numerator column, denominator column): the
    actual is 100 × sum(numerator) / sum(denominator), so the city's share is computed from its sums) -#}
{%- set facts = count_facts() %}
{%- set ratios = ratio_facts() %}
{#- a target with no counting rule, or whose feed has sent nothing yet, is 未接入 (not fed) -#}
{%- set fed = counting_rules().keys() | list %}

with

targets as (
    select * from {{ ref('dim_policy_target') }}
),

regions as (
    select * from {{ ref('dim_region') }}
),

history as (
    -- the city's published actuals of the 90 days before the as-of date: the recent trend
    -- (dates before the as-of date only, so a rerun or a backfill of a date reads the same)
    select
        target_id,
        snapshot_date,
        actual_value
    from {{ ref('stg_history__target_progress') }}
    where
        region_code = '320500'
        and actual_value is not null
        and snapshot_date >= {{ as_of_date() }} - 90
        and snapshot_date < {{ as_of_date() }}
),

fed_feeds as (
    -- a target is fed once its source feed has a batch through the raw gate
    select distinct feed from {{ ref('stg_loader__accepted_batches') }}
),

actuals as (
    {%- for fact in facts %}
        select
            target_id,
            region_code,
            count(*) as numerator_value,
            cast(null as numeric) as denominator_value
        from {{ ref(fact) }}
        group by target_id, region_code
        union all
    {%- endfor %}
    {%- for fact, spec in ratios.items() %}
        select
            target_id,
            region_code,
            sum({{ spec[1] }}) as numerator_value,
            sum({{ spec[2] }}) as denominator_value
        from {{ ref(fact) }}
        group by target_id, region_code
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

by_region as (
    select
        targets.target_id,
        regions.region_code,
        targets.target_id in ('{{ fed | join("', '") }}')
        and targets.source_feeds in (select fed_feeds.feed from fed_feeds) as is_fed,
        targets.target_id in ('{{ ratios.values() | map(attribute=0) | join("', '") }}') as is_ratio,
        actuals.numerator_value,
        actuals.denominator_value
    from targets
    cross join regions
    left join actuals
        on targets.target_id = actuals.target_id and regions.region_code = actuals.region_code
    where regions.region_level in ('county', 'unlocated')
),

region_rows as (
    select
        target_id,
        region_code,
        is_fed,
        is_ratio,
        case when is_fed then coalesce(numerator_value, 0) end as numerator_value,
        case when is_fed and is_ratio then coalesce(denominator_value, 0) end as denominator_value
    from by_region
),

city_rows as (
    -- the city total is the sum over its regions (未定位 included): nothing counted twice
    select
        target_id,
        '320500' as region_code,
        bool_and(is_fed) as is_fed,
        bool_and(is_ratio) as is_ratio,
        sum(numerator_value) as numerator_value,
        sum(denominator_value) as denominator_value
    from region_rows
    group by target_id
),

all_rows as (
    select
        *,
        case
            when not is_ratio then numerator_value
            when denominator_value > 0 then round(100.0 * numerator_value / denominator_value, 1)
        end as actual_value
    from (
        select * from region_rows
        union all
        select * from city_rows
    ) as unioned
),

with_trajectory as (
    select
        all_rows.*,
        -- the straight line from the baseline on the policy's start to the target on its deadline
        -- (baseline 0 where the seed has none); the share of the way the as-of date has come
        coalesce(targets.baseline_value, 0)
        + (targets.target_value - coalesce(targets.baseline_value, 0))
        * least(
            1.0,
            greatest(
                0.0,
                1.0 * ({{ as_of_date() }} - targets.policy_start) / nullif(targets.deadline - targets.policy_start, 0)
            )
        ) as trajectory_value
    from all_rows
    inner join targets on all_rows.target_id = targets.target_id
),

trends as (
    -- least-squares slope per day through the recent published actuals and today's: at least
    -- one earlier snapshot is needed, else there is no projection and the line alone decides
    select
        points.target_id,
        regr_slope(points.actual_value, points.snapshot_date - {{ as_of_date() }}) as slope_per_day
    from (
        select
            target_id,
            snapshot_date,
            actual_value
        from history
        union all
        select
            target_id,
            {{ as_of_date() }} as snapshot_date,
            actual_value
        from all_rows
        where region_code = '320500' and is_fed and actual_value is not null
    ) as points
    group by points.target_id
    having count(distinct points.snapshot_date) >= 2
),

with_projection as (
    select
        with_trajectory.*,
        -- where the recent trend leads by the deadline (today's value once the deadline has passed)
        with_trajectory.actual_value
        + cast(trends.slope_per_day as numeric) * greatest(targets.deadline - {{ as_of_date() }}, 0) as projected_value
    from with_trajectory
    inner join targets on with_trajectory.target_id = targets.target_id
    left join trends
        on with_trajectory.target_id = trends.target_id and with_trajectory.region_code = '320500'
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        all_rows.target_id,
        targets.target_kind,
        targets.clause,
        targets.indicator_zh,
        targets.unit_zh,
        all_rows.region_code,
        regions.region_name_zh,
        regions.region_level,
        all_rows.is_fed,
        all_rows.numerator_value,
        all_rows.denominator_value,
        all_rows.actual_value,
        case when regions.region_level = 'city' then targets.comparator end as comparator,
        case when regions.region_level = 'city' then targets.target_value end as target_value,
        case
            when regions.region_level = 'city' and all_rows.is_fed and targets.target_value > 0
                then round(100.0 * all_rows.actual_value / targets.target_value, 1)
        end as percent_of_target,
        case
            when regions.region_level = 'city' and all_rows.is_fed
                then round(all_rows.trajectory_value, 1)
        end as trajectory_value,
        case
            when regions.region_level = 'city' and all_rows.is_fed and targets.target_kind = 'target'
                then round(all_rows.projected_value, 1)
        end as projected_value,
        case
            when not all_rows.is_fed then '未接入'
            when regions.region_level <> 'city' then '—'
            when targets.target_kind = 'indicator' then '监测'
            when targets.comparator = '>=' and all_rows.actual_value >= targets.target_value then '达标'
            when targets.comparator = '>' and all_rows.actual_value > targets.target_value then '达标'
            -- on track: at or above the straight line, or the recent trend meets the target in time
            when all_rows.actual_value >= all_rows.trajectory_value then '进度正常'
            when targets.comparator = '>=' and all_rows.projected_value >= targets.target_value then '进度正常'
            when targets.comparator = '>' and all_rows.projected_value > targets.target_value then '进度正常'
            else '滞后'
        end as progress_status
    from with_projection as all_rows
    inner join targets on all_rows.target_id = targets.target_id
    inner join regions on all_rows.region_code = regions.region_code
)

select * from final

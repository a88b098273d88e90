-- 目标进度: every policy target × every region (and the city) on the as-of date.
-- Targets whose feeds are not ingested yet appear with no actual and status 未接入.
{#- fact model -> the targets/indicators it answers; a target in no fact is 未接入 (not fed) -#}
{%- set facts = {
    'fct_t02_green_food_certificates': ['T02'],
    'fct_t03_organic_certificates': ['T03'],
    'fct_t05_service_certificates': ['T05'],
    'fct_t06_ems_certificates': ['T06'],
    'fct_t07_energy_water_low_carbon_product_certificates': ['T07'],
    'fct_t08_green_building_material_certificates': ['T08'],
    'fct_t09_enms_certificates': ['T09'],
    'fct_t10_green_enterprise_standards': ['T10'],
    'fct_t11_green_certification_bodies': ['T11'],
    'fct_indicator_certificates': ['I01', 'I02', 'I03', 'I04', 'I05'],
} %}
{%- set fed = [] %}
{%- for ids in facts.values() %}{% do fed.extend(ids) %}{% endfor %}

with

targets as (
    select * from {{ ref('dim_policy_target') }}
),

regions as (
    select * from {{ ref('dim_region') }}
),

actuals as (
    {%- for fact in facts %}
        select
            target_id,
            region_code,
            count(*) as actual_value
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
        targets.target_id in ('{{ fed | join("', '") }}') as is_fed,
        actuals.actual_value
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
        case when is_fed then coalesce(actual_value, 0) end as actual_value
    from by_region
),

city_rows as (
    -- the city total is the sum over its regions (未定位 included): nothing counted twice
    select
        target_id,
        '320500' as region_code,
        bool_and(is_fed) as is_fed,
        sum(actual_value) as actual_value
    from region_rows
    group by target_id
),

all_rows as (
    select * from region_rows
    union all
    select * from city_rows
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
        all_rows.actual_value,
        case when regions.region_level = 'city' then targets.comparator end as comparator,
        case when regions.region_level = 'city' then targets.target_value end as target_value,
        case
            when regions.region_level = 'city' and all_rows.is_fed and targets.target_value > 0
                then round(100.0 * all_rows.actual_value / targets.target_value, 1)
        end as percent_of_target,
        case
            when not all_rows.is_fed then '未接入'
            when regions.region_level <> 'city' then '—'
            when targets.target_kind = 'indicator' then '监测'
            when targets.comparator = '>=' and all_rows.actual_value >= targets.target_value then '达标'
            when targets.comparator = '>' and all_rows.actual_value > targets.target_value then '达标'
            else '未达标'
        end as progress_status
    from all_rows
    inner join targets on all_rows.target_id = targets.target_id
    inner join regions on all_rows.region_code = regions.region_code
)

select * from final

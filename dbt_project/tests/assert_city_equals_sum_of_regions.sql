-- The city total of every target equals the sum over its regions (nothing counted twice or lost).
with progress as (
    select * from {{ ref('fct_target_progress') }}
),

city as (
    select
        target_id,
        actual_value
    from progress
    where region_level = 'city'
),

regions as (
    select
        target_id,
        sum(actual_value) as actual_value
    from progress
    where region_level <> 'city'
    group by target_id
)

select
    city.target_id,
    city.actual_value as city_value,
    regions.actual_value as sum_of_regions
from city
inner join regions on city.target_id = regions.target_id
where city.actual_value is distinct from regions.actual_value

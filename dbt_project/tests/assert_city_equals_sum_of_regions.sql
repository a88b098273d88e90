-- The city total of every target equals the sum over its regions (nothing counted twice or lost).
-- Ratio targets (T04) compare their numerator and denominator: shares themselves do not add up.
with progress as (
    select * from {{ ref('fct_target_progress') }}
),

city as (
    select
        target_id,
        numerator_value,
        denominator_value
    from progress
    where region_level = 'city'
),

regions as (
    select
        target_id,
        sum(numerator_value) as numerator_value,
        sum(denominator_value) as denominator_value
    from progress
    where region_level <> 'city'
    group by target_id
)

select
    city.target_id,
    city.numerator_value as city_numerator,
    regions.numerator_value as sum_of_region_numerators,
    city.denominator_value as city_denominator,
    regions.denominator_value as sum_of_region_denominators
from city
inner join regions on city.target_id = regions.target_id
where
    city.numerator_value is distinct from regions.numerator_value
    or city.denominator_value is distinct from regions.denominator_value

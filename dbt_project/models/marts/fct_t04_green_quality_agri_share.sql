-- T04 （五）绿色优质农产品比重: green-quality output / total edible agri output, from the latest
-- statistical year before the as-of year (a year's figures are published the next spring). One row
-- per region × category; the share is a ratio of sums, so fct_target_progress adds up the tonnes
-- (numerator and denominator), never the percentages.
with

output as (
    select * from {{ ref('stg_agri_output__output') }}
),

districts as (
    select distinct district_name from output
),

located as (
    {{ locate_by_keywords('districts', 'district_name', 'district_name') }}
),

latest_year as (
    select max(output_year) as output_year
    from output
    where output_year < extract(year from {{ as_of_date() }})
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        'T04' as target_id,
        output.output_year,
        coalesce(located.text_region, '000000') as region_code,
        output.category,
        sum(output.green_quality_output_t) as green_quality_output_t,
        sum(output.total_output_t) as total_output_t
    from output
    inner join latest_year on output.output_year = latest_year.output_year
    left join located on output.district_name = located.district_name
    group by output.output_year, coalesce(located.text_region, '000000'), output.category
)

select * from final

-- Address keywords of each county-level unit (regions seed), longest first when several match.
with

regions as (
    select * from {{ ref('regions') }}
    where region_level = 'county'
),

final as (
    select
        regions.region_code,
        keyword,
        length(keyword) as keyword_length
    from regions
    cross join lateral unnest(string_to_array(regions.address_keywords, '|')) as keyword
)

select * from final

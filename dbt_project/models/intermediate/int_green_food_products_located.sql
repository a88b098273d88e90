-- Every green-food product with its region: the list's 所在地区, else the producer's USCC
-- registering region, else 000000 (未定位) so it is counted and shown, never dropped.
with

products as (
    select * from {{ ref('stg_green_food__products') }}
),

regions as (
    select * from {{ ref('regions') }}
    where region_level = 'county'
),

keywords as (
    select * from {{ ref('int_region_keywords') }}
),

by_district as (
    select distinct on (products.product_code)
        products.product_code,
        keywords.region_code as district_region
    from products
    inner join keywords on strpos(products.district_name, keywords.keyword) > 0
    order by products.product_code asc, keywords.keyword_length desc, keywords.region_code asc
),

final as (
    select
        products.product_code,
        products.product_name,
        products.org_name,
        products.uscc,
        products.valid_from,
        products.valid_to,
        coalesce(by_district.district_region, regions.region_code, '000000') as region_code,
        case
            when by_district.district_region is not null then 'district_name'
            when regions.region_code is not null then 'uscc'
            else 'unlocated'
        end as region_method
    from products
    left join by_district on products.product_code = by_district.product_code
    left join regions on products.uscc_is_valid and substr(products.uscc, 3, 6) = regions.region_code
)

select * from final

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

by_district as (
    {{ locate_by_keywords('products', 'product_code', 'district_name') }}
),

final as (
    select
        products.product_code,
        products.product_name,
        products.org_name,
        products.uscc,
        products.valid_from,
        products.valid_to,
        coalesce(by_district.text_region, regions.region_code, '000000') as region_code,
        case
            when by_district.text_region is not null then 'district_name'
            when regions.region_code is not null then 'uscc'
            else 'unlocated'
        end as region_method
    from products
    left join by_district on products.product_code = by_district.product_code
    left join regions on products.uscc_is_valid and substr(products.uscc, 3, 6) = regions.region_code
)

select * from final

-- T02 （五）绿色食品认证证书: green-food certificates (one per product) in force on the as-of date.
-- The list has no status column: a listed product is valid, so only the dates decide.
with

products as (
    select * from {{ ref('int_green_food_products_located') }}
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        'T02' as target_id,
        product_code,
        product_name,
        org_name,
        uscc,
        region_code,
        region_method,
        valid_from,
        valid_to
    from products
    where {{ is_in_force(as_of_date(), issue_date='valid_from', expiry_date='valid_to',
                         status="'有效'", is_sub='false') }}
)

select * from final

-- Green-manufacturing entries standing on the as-of date in Suzhou: announced by then, not withdrawn
-- by then (a withdrawal with no readable date counts as withdrawn), each factory, park or supply-
-- chain enterprise once across the national and provincial lists (national wins), each design
-- product once.
with

resolved as (
    select * from {{ ref('int_green_manufacturing_resolved') }}
),

standing as (
    select * from resolved
    where in_suzhou and is_standing
),

final as (
    select distinct on (list_type, identity_key, coalesce(product_model, ''))
        {{ as_of_date() }} as as_of_date,
        list_type,
        identity_key,
        entry_name,
        renamed_to,
        uscc,
        list_level,
        list_batch,
        announced_on,
        product_name,
        product_model,
        region_code,
        region_method
    from standing
    order by
        list_type asc, identity_key asc, coalesce(product_model, '') asc, list_level = '国家级' desc,
        announced_on asc
)

select * from final

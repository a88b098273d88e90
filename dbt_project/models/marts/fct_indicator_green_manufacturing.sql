-- I06 绿色园区, I07 绿色供应链管理示范企业, I08 绿色设计产品 (clause (三), no number): parks and
-- supply-chain enterprises once each, design products one per product, on the as-of date.
with

listed as (
    select * from {{ ref('int_green_manufacturing_listed') }}
    where list_type in ('park', 'supply_chain', 'design_product')
),

final as (
    select
        as_of_date,
        case list_type when 'park' then 'I06' when 'supply_chain' then 'I07' else 'I08' end as target_id,
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
    from listed
)

select * from final

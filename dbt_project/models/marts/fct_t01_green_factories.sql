-- T01 （三）绿色工厂: green factories on the national or the Jiangsu list on the as-of date, not
-- withdrawn, each factory once however many lists carry it.
with

listed as (
    select * from {{ ref('int_green_manufacturing_listed') }}
    where list_type = 'factory'
),

final as (
    select
        as_of_date,
        'T01' as target_id,
        identity_key,
        entry_name,
        renamed_to,
        uscc,
        list_level,
        list_batch,
        announced_on,
        region_code,
        region_method
    from listed
)

select * from final

-- 未匹配名称: Jiangsu green-manufacturing entries standing on the as-of date whose name matches no
-- enterprise known by USCC in the other feeds — reported, never dropped. `region_code` says where
-- the entry is counted anyway (by the list's 地区 or its own name; 000000 when it says 苏州 only)
-- and is null for entries that name no Suzhou place (counted nowhere: most are elsewhere in Jiangsu;
-- a Suzhou one among them needs its name added to a feed or its list corrected).
with

resolved as (
    select * from {{ ref('int_green_manufacturing_resolved') }}
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        list_type,
        list_level,
        list_batch,
        entry_name,
        renamed_to,
        name_key,
        region_text,
        product_model,
        region_code,
        region_method,
        source_file,
        source_row
    from resolved
    where
        uscc is null
        and (list_level = '省级' or strpos(coalesce(region_text, ''), '江苏') > 0)
        and is_standing
)

select * from final

-- T10 （十）高于国家级标准的绿色产品企业标准: green-product enterprise standards whose indicators
-- are above the national standard, made or revised in the policy period and current (现行).
with

standards as (
    select * from {{ ref('stg_enterprise_standards__standards') }}
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        'T10' as target_id,
        standard_no,
        uscc,
        standard_name,
        org_name,
        national_standard,
        published_on,
        coalesce({{ uscc_county('uscc', 'uscc_is_valid') }}, '000000') as region_code
    from standards
    where
        is_green
        and level = '高于国家标准'
        and status = '现行'
        and published_on between cast('{{ var("policy_start") }}' as date) and {{ as_of_date() }}
)

select * from final

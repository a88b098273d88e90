-- T11 （十）引进绿色认证资质认证机构: certification bodies with a green-certification scope
-- brought into Suzhou in the policy period, whose approval is valid on the as-of date.
with

bodies as (
    select * from {{ ref('stg_certification_bodies__bodies') }}
),

by_address as (
    {{ locate_by_keywords('bodies', 'approval_no', 'suzhou_address') }}
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        'T11' as target_id,
        bodies.approval_no,
        bodies.body_name,
        bodies.uscc,
        bodies.introduced_on,
        bodies.approval_valid_to,
        coalesce(by_address.text_region, '000000') as region_code
    from bodies
    left join by_address on bodies.approval_no = by_address.approval_no
    where
        bodies.has_green_scope
        and bodies.introduced_on between cast('{{ var("policy_start") }}' as date) and {{ as_of_date() }}
        and {{ as_of_date() }} < bodies.approval_valid_to
)

select * from final

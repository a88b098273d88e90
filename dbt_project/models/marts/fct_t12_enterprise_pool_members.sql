-- T12 （四）龙头企业与高成长型企业: members of the leading (30) and high-growth (300) enterprise
-- pools on the as-of date, and (I09) those of them holding a green certificate in force that day:
-- the 绿色认证领跑者 the clause wants to grow. One row per enterprise and pool; an enterprise in
-- both pools counts once per target.
with

members as (
    select * from {{ ref('stg_enterprise_pools__members') }}
),

green_certificates as (
    select * from {{ ref('fct_green_certificates_in_force') }}
),

located as (
    {{ locate_by_keywords('members', 'uscc', 'district_name') }}
),

in_pool as (
    select distinct on (members.uscc)
        members.uscc,
        members.org_name,
        members.pool,
        members.entered_on,
        coalesce(
            located.text_region, {{ uscc_county('members.uscc', 'members.uscc_is_valid') }}, '000000'
        ) as region_code
    from members
    left join located on members.uscc = located.uscc
    where
        members.entered_on <= {{ as_of_date() }}
        and (members.left_on is null or members.left_on > {{ as_of_date() }})
    -- a leading enterprise that is also in the high-growth pool is listed once, as leading
    order by members.uscc asc, members.pool = '龙头企业' desc
),

held as (
    select
        uscc,
        count(*) as green_certificates
    from green_certificates
    group by uscc
),

counted as (
    select
        'T12' as target_id,
        in_pool.*,
        coalesce(held.green_certificates, 0) as green_certificates
    from in_pool
    left join held on in_pool.uscc = held.uscc
    union all
    select
        'I09' as target_id,
        in_pool.*,
        held.green_certificates
    from in_pool
    inner join held on in_pool.uscc = held.uscc
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        target_id,
        uscc,
        org_name,
        pool,
        entered_on,
        region_code,
        green_certificates
    from counted
)

select * from final

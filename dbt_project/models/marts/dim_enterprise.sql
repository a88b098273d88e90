-- 企业维: one row per enterprise known by its USCC in any feed, with its region (the USCC's
-- registering county, else 000000) and whether it is on the serious-dishonesty list on the
-- as-of date (clause (十二)).
with

sightings as (
    select * from {{ ref('int_enterprises_unioned') }}
),

blacklist as (
    select * from {{ ref('stg_credit_blacklist__entries') }}
),

regions as (
    select * from {{ ref('dim_region') }}
    where region_level = 'county'
),

enterprises as (
    select
        uscc,
        mode() within group (order by org_name) as enterprise_name,
        array_agg(distinct feed order by feed) as feeds,
        count(*) as sightings
    from sightings
    group by uscc
),

listed as (
    -- listings in effect at the end of the as-of day (the earliest if several)
    select distinct on (uscc)
        uscc,
        listed_on,
        reason
    from blacklist
    where listed_on <= {{ as_of_date() }} and (removed_on is null or removed_on > {{ as_of_date() }})
    order by uscc asc, listed_on asc
),

final as (
    select
        enterprises.uscc as enterprise_id,
        enterprises.enterprise_name,
        coalesce(regions.region_code, '000000') as region_code,
        enterprises.feeds,
        enterprises.sightings,
        listed.uscc is not null as is_seriously_dishonest,
        listed.listed_on as dishonest_listed_on,
        listed.reason as dishonest_reason
    from enterprises
    left join regions on substr(enterprises.uscc, 3, 6) = regions.region_code
    left join listed on enterprises.uscc = listed.uscc
)

select * from final

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

names as (
    -- the name sent most often (of equally frequent names the first in order, as mode() chooses)
    select distinct on (uscc)
        uscc,
        org_name
    from (
        select
            uscc,
            org_name,
            sum(sightings) as sightings
        from sightings
        where org_name is not null
        group by uscc, org_name
    ) as name_counts
    order by uscc asc, sightings desc, org_name asc
),

enterprises as (
    select
        sightings.uscc,
        names.org_name as enterprise_name,
        array_agg(distinct sightings.feed order by sightings.feed) as feeds,
        cast(sum(sightings.sightings) as bigint) as sightings
    from sightings
    left join names on sightings.uscc = names.uscc
    group by sightings.uscc, names.org_name
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

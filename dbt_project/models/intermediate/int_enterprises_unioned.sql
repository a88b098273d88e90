-- The names each enterprise (valid USCC) is sent under, per feed, with how many records send each:
-- the key that resolves an enterprise across feeds. Sources without a USCC (green-manufacturing
-- lists) are matched by name later. Counted here, once, for what reads it. Of the certificates
-- register, the certificates that are Suzhou's (placed here, or not registered elsewhere): on the
-- national register the other cities' millions of holders are not this warehouse's enterprises,
-- as their certificates are not counted (int_certificates_located).
with

certificates as (
    select * from {{ ref('int_certificates_located') }}
),

green_food as (
    select * from {{ ref('stg_green_food__products') }}
),

organic as (
    select * from {{ ref('stg_organic__certificates') }}
),

building_materials as (
    select * from {{ ref('stg_green_building_materials__certificates') }}
),

standards as (
    select * from {{ ref('stg_enterprise_standards__standards') }}
),

sightings as (
    select
        org_id as uscc,
        org_name,
        'certificates' as feed
    from certificates
    where org_id_is_uscc
    union all
    select
        uscc,
        org_name,
        'green_food' as feed
    from green_food
    where uscc_is_valid
    union all
    select
        uscc,
        org_name,
        'organic' as feed
    from organic
    where uscc_is_valid
    union all
    select
        uscc,
        org_name,
        'green_building_materials' as feed
    from building_materials
    where uscc_is_valid
    union all
    select
        uscc,
        org_name,
        'enterprise_standards' as feed
    from standards
    where uscc_is_valid
),

final as (
    select
        uscc,
        org_name,
        feed,
        count(*) as sightings
    from sightings
    group by uscc, org_name, feed
)

select * from final

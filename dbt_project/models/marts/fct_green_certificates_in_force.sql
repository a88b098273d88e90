-- 有效绿色认证证书: every green certificate in force on the as-of date, from every feed that
-- certifies (certificates counting towards a target or indicator, green food, organic, graded
-- green building materials), with its holder's USCC, the region its target's fact counts it in and
-- its dates — one place to ask "who holds what" (and what bi.certificates_in_force shows).
with

certificates as (
    select
        'certificates' as source_feed,
        target_id,
        cert_no as certificate_no,
        org_id as uscc,
        org_name,
        region_code,
        issue_date,
        expiry_date
    from {{ ref('int_certificates_in_force') }}
    where target_id is not null
),

green_food as (
    select
        'green_food' as source_feed,
        target_id,
        product_code as certificate_no,
        uscc,
        org_name,
        region_code,
        valid_from as issue_date,
        valid_to as expiry_date
    from {{ ref('fct_t02_green_food_certificates') }}
),

organic as (
    select
        'organic' as source_feed,
        target_id,
        cert_no as certificate_no,
        uscc,
        org_name,
        region_code,
        issue_date,
        expiry_date
    from {{ ref('fct_t03_organic_certificates') }}
),

building_materials as (
    select
        'green_building_materials' as source_feed,
        target_id,
        cert_no as certificate_no,
        uscc,
        org_name,
        region_code,
        issue_date,
        expiry_date
    from {{ ref('fct_t08_green_building_material_certificates') }}
),

unioned as (
    select * from certificates
    union all
    select * from green_food
    union all
    select * from organic
    union all
    select * from building_materials
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        source_feed,
        target_id,
        certificate_no,
        uscc,
        org_name,
        region_code,
        issue_date,
        expiry_date
    from unioned
)

select * from final

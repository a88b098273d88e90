-- 虚标/失信监测 (clause (十二)): every certificate in force on the as-of date whose holder is on
-- the serious-dishonesty list that day — the office's watch list of green certificates held by
-- listed enterprises.
with

certificates as (
    select
        target_id,
        cert_no as certificate_no,
        org_id as uscc,
        org_name
    from {{ ref('int_certificates_in_force') }}
    where target_id is not null
),

green_food as (
    select
        target_id,
        product_code as certificate_no,
        uscc,
        org_name
    from {{ ref('fct_t02_green_food_certificates') }}
),

organic as (
    select
        target_id,
        cert_no as certificate_no,
        uscc,
        org_name
    from {{ ref('fct_t03_organic_certificates') }}
),

building_materials as (
    select
        target_id,
        cert_no as certificate_no,
        uscc,
        org_name
    from {{ ref('fct_t08_green_building_material_certificates') }}
),

enterprises as (
    select * from {{ ref('dim_enterprise') }}
    where is_seriously_dishonest
),

in_force as (
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
        in_force.target_id,
        in_force.certificate_no,
        in_force.uscc,
        in_force.org_name,
        enterprises.region_code,
        enterprises.dishonest_listed_on,
        enterprises.dishonest_reason
    from in_force
    inner join enterprises on in_force.uscc = enterprises.enterprise_id
)

select * from final

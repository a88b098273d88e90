-- 虚标/失信监测 (clause (十二)): every certificate in force on the as-of date whose holder is on
-- the serious-dishonesty list that day — the office's watch list of green certificates held by
-- listed enterprises.
with

in_force as (
    select * from {{ ref('fct_green_certificates_in_force') }}
),

enterprises as (
    select * from {{ ref('dim_enterprise') }}
    where is_seriously_dishonest
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

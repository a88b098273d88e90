{#- A certificate-count target's fact: one row per certificate in force on the as-of date whose
    program counts towards the target (programs seed). -#}
{% macro certificates_in_force_for(target_id) %}
with

in_force as (
    select * from {{ ref('int_certificates_in_force') }}
),

final as (
    select
        as_of_date,
        cert_no,
        cert_program,
        org_name,
        org_id,
        region_code,
        region_method,
        body_name,
        issue_date,
        expiry_date
    from in_force
    where target_id = '{{ target_id }}'
)

select * from final
{% endmacro %}

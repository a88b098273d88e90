{#- A certificate-count fact: one row per certificate in force on the as-of date whose program
    counts towards one of the given targets or indicators (programs seed). -#}
{% macro certificates_in_force_for(target_ids) %}
with

in_force as (
    select * from {{ ref('int_certificates_in_force') }}
),

final as (
    select
        as_of_date,
        target_id,
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
    where target_id in ('{{ target_ids | join("', '") }}')
)

select * from final
{% endmacro %}

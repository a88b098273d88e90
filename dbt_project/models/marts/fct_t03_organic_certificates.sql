-- T03 （五）有机产品认证证书: organic certificates in force on the as-of date; conversion-period
-- certificates are not organic certificates and are left out.
with

in_force as (
    select * from {{ ref('int_organic_certificates_in_force') }}
),

final as (
    select
        as_of_date,
        'T03' as target_id,
        cert_no,
        org_name,
        uscc,
        organic_kind,
        product_name,
        region_code,
        region_method,
        body_name,
        issue_date,
        expiry_date
    from in_force
    where not in_conversion
)

select * from final

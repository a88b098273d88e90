-- T08 （七）绿色建材产品分级认证证书: graded green building-material certificates in force on
-- the as-of date. The plant's address places a certificate, else the holder's USCC. The source
-- sends no update time, so the status is the latest one seen.
with

certificates as (
    select * from {{ ref('stg_green_building_materials__certificates') }}
),

by_address as (
    {{ locate_by_keywords('certificates', 'cert_no', 'plant_address') }}
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        'T08' as target_id,
        certificates.cert_no,
        certificates.org_name,
        certificates.uscc,
        certificates.product_category,
        certificates.grade,
        coalesce(
            by_address.text_region, {{ uscc_county('certificates.uscc', 'certificates.uscc_is_valid') }}, '000000'
        ) as region_code,
        certificates.issue_date,
        certificates.expiry_date
    from certificates
    left join by_address on certificates.cert_no = by_address.cert_no
    where {{ is_in_force(as_of_date(), issue_date='certificates.issue_date',
                         expiry_date='certificates.expiry_date', status='certificates.status',
                         is_sub='false') }}
)

select * from final

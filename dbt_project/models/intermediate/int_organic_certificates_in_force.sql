-- Organic certificates in force on the as-of date through the one definition (is_in_force),
-- status from the status history, each with its region (USCC, else the base's address, else
-- 000000 未定位). Conversion-period certificates stay in, flagged: T03 leaves them out.
with

certificates as (
    select * from {{ ref('stg_organic__certificates') }}
),

status_on_date as (
    {{ status_on_as_of_date(ref('snp_organic__status')) }}
),

regions as (
    select * from {{ ref('regions') }}
    where region_level = 'county'
),

by_address as (
    {{ locate_by_keywords('certificates', 'cert_no', 'site_address') }}
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        certificates.cert_no,
        certificates.org_name,
        certificates.uscc,
        certificates.organic_kind,
        certificates.product_name,
        certificates.in_conversion,
        certificates.body_name,
        certificates.issue_date,
        certificates.expiry_date,
        coalesce(regions.region_code, by_address.text_region, '000000') as region_code,
        case
            when regions.region_code is not null then 'uscc'
            when by_address.text_region is not null then 'address'
            else 'unlocated'
        end as region_method
    from certificates
    inner join status_on_date on certificates.cert_no = status_on_date.cert_no
    left join regions on certificates.uscc_is_valid and substr(certificates.uscc, 3, 6) = regions.region_code
    left join by_address on certificates.cert_no = by_address.cert_no
    where {{ is_in_force(as_of_date(), issue_date='certificates.issue_date',
                         expiry_date='certificates.expiry_date',
                         is_sub='certificates.is_sub_certificate') }}
)

select * from final

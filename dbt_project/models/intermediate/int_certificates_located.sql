-- Every certificate with its program's target and its region: the source's code (retired codes
-- mapped), else the USCC's registering region, else the address; what none of these places
-- goes to 000000 (未定位) so it is counted and shown, never dropped — unless its USCC says the
-- holder is registered outside Suzhou: a provincial relay also carries other cities' certificates,
-- and those are not Suzhou's to count (a Suzhou code or address still places them here).
with

certificates as (
    select * from {{ ref('stg_certificates__certificates') }}
),

programs as (
    select * from {{ ref('programs') }}
),

regions as (
    select * from {{ ref('regions') }}
    where region_level = 'county'
),

aliases as (
    select * from {{ ref('region_code_aliases') }}
),

by_code as (
    select
        certificates.cert_no,
        regions_from_source.region_code as source_region,
        regions_from_uscc.region_code as uscc_region,
        certificates.org_id_is_uscc and substr(certificates.org_id, 3, 4) <> '3205' as registered_elsewhere
    from certificates
    left join aliases on certificates.source_region_code = aliases.alias_code
    left join regions as regions_from_source
        on coalesce(aliases.region_code, certificates.source_region_code) = regions_from_source.region_code
    left join regions as regions_from_uscc
        on certificates.org_id_is_uscc and substr(certificates.org_id, 3, 6) = regions_from_uscc.region_code
),

unplaced as (  -- the address is read only where no code placed the certificate
    select
        certificates.cert_no,
        certificates.org_address
    from certificates
    inner join by_code on certificates.cert_no = by_code.cert_no
    where by_code.source_region is null and by_code.uscc_region is null
),

by_address as (
    {{ locate_by_keywords('unplaced', 'cert_no', 'org_address') }}
),

final as (
    select
        certificates.cert_no,
        certificates.cert_program,
        certificates.org_name,
        certificates.org_id,
        certificates.body_name,
        certificates.issue_date,
        certificates.expiry_date,
        certificates.is_sub_certificate,
        programs.target_id,
        programs.program_category,
        coalesce(by_code.source_region, by_code.uscc_region, by_address.text_region, '000000') as region_code,
        case
            when by_code.source_region is not null then 'source_code'
            when by_code.uscc_region is not null then 'uscc'
            when by_address.text_region is not null then 'address'
            else 'unlocated'
        end as region_method
    from certificates
    left join programs on certificates.cert_program = programs.program_name_zh
    left join by_code on certificates.cert_no = by_code.cert_no
    left join by_address on certificates.cert_no = by_address.cert_no
    where
        by_code.source_region is not null
        or by_code.uscc_region is not null
        or by_address.text_region is not null
        or not by_code.registered_elsewhere
)

select * from final

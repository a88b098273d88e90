-- Every certificate with its program's target and its region: the source's code (retired codes
-- mapped), else the USCC's registering region, else the address; what none of these places
-- goes to 000000 (未定位) so it is counted and shown, never dropped — unless its USCC says the
-- holder is registered outside Suzhou: a provincial relay also carries other cities' certificates,
-- and those are not Suzhou's to count (a Suzhou code or address still places them here).
-- Incremental, in the persistent `staging` schema: a night places again only the certificates the
-- day's batches changed (take_batches_of), not the whole register; it starts over when the region
-- or program seeds or this file change (its columns follow: sync_all_columns), or when the register
-- itself started over.
{{ config(
    materialized='incremental',
    schema='staging',
    unique_key='cert_no',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    indexes=[{'columns': ['cert_no'], 'unique': true}],
    pre_hook="{{ take_batches_of(ref('stg_certificates__certificates'), 'cert_no',
                                 rules=[ref('regions'), ref('region_code_aliases'), ref('programs')]) }}",
) }}

with

certificates as (
    select * from {{ ref('stg_certificates__certificates') }}
    {%- if is_incremental() %}
        -- the certificates the batches taken in this build changed (their rows here were dropped)
        where {{ taken_in_this_transaction(this.identifier) }}
    {%- endif %}
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

placed_by_code as (
    select
        certificates.*,
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

placed as (
    -- one pass over the register: the address is read (the longest keyword it names) only where no
    -- code placed the certificate; a self-join on cert_no instead wrote the register to disk twice
    select
        placed_by_code.*,
        by_address.text_region
    from placed_by_code
    left join lateral (
        {{ keyword_in('placed_by_code.org_address',
                      only_if='placed_by_code.source_region is null and placed_by_code.uscc_region is null') }}
    ) as by_address on true
),

final as (
    select
        placed.cert_no,
        placed.cert_program,
        placed.org_name,
        placed.org_id,
        placed.org_id_is_uscc,
        placed.body_name,
        placed.issue_date,
        placed.expiry_date,
        placed.is_sub_certificate,
        programs.target_id,
        programs.program_category,
        coalesce(placed.source_region, placed.uscc_region, placed.text_region, '000000') as region_code,
        case
            when placed.source_region is not null then 'source_code'
            when placed.uscc_region is not null then 'uscc'
            when placed.text_region is not null then 'address'
            else 'unlocated'
        end as region_method
    from placed
    left join programs on placed.cert_program = programs.program_name_zh
    where
        placed.source_region is not null
        or placed.uscc_region is not null
        or placed.text_region is not null
        or not placed.registered_elsewhere
)

select * from final

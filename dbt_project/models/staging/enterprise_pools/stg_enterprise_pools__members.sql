-- One row per enterprise and pool (龙头企业 / 高成长型企业): the latest state sent.
with

source as (
    select * from {{ ref('base_enterprise_pools__accepted_rows') }}
),

renamed as (
    select
        upper({{ clean_text('source.uscc') }}) as uscc,
        {{ clean_text('source.org_name') }} as org_name,
        {{ clean_text('source.pool') }} as pool,
        {{ clean_text('source.district_name') }} as district_name,
        {{ parse_date(clean_text('source.entered_on')) }} as entered_on,
        {{ parse_date(clean_text('source.left_on')) }} as left_on,
        source.batch_id,
        source.source_row,
        source.landed_at
    from source
),

latest as (
    {{ latest_per_key('renamed', 'uscc, pool') }}
),

final as (
    select
        uscc,
        {{ is_valid_uscc('uscc') }} as uscc_is_valid,
        org_name,
        pool,
        district_name,
        entered_on,
        left_on,
        batch_id,
        source_row
    from latest
)

select * from final

-- One row per green-food certified product: the latest state sent by any accepted batch.
with

source as (
    select * from {{ ref('base_green_food__accepted_rows') }}
),

renamed as (
    select
        upper({{ clean_text('source.product_code') }}) as product_code,
        {{ clean_text('source.org_name') }} as org_name,
        upper({{ clean_text('source.uscc') }}) as uscc,
        upper({{ clean_text('source.enterprise_code') }}) as enterprise_code,
        {{ clean_text('source.product_name') }} as product_name,
        {{ parse_number(clean_text('source.approved_output_t')) }} as approved_output_t,
        {{ clean_text('source.brand') }} as brand,
        {{ clean_text('source.grant_type') }} as grant_type,
        {{ parse_date(clean_text('source.valid_from')) }} as valid_from,
        {{ parse_date(clean_text('source.valid_to')) }} as valid_to,
        {{ clean_text('source.district_name') }} as district_name,
        source.batch_id,
        source.source_row,
        source.landed_at
    from source
),

latest as (
    {{ latest_per_key('renamed', 'product_code') }}
),

final as (
    select
        product_code,
        org_name,
        uscc,
        {{ is_valid_uscc('uscc') }} as uscc_is_valid,
        enterprise_code,
        product_name,
        approved_output_t,
        brand,
        grant_type,
        valid_from,
        valid_to,
        district_name,
        batch_id,
        source_row
    from latest
)

select * from final

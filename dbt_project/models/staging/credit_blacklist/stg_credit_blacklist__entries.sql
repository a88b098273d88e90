-- One row per listing (统一社会信用代码 + 列入日期): the latest state sent by any accepted batch.
with

source as (
    select * from {{ ref('base_credit_blacklist__accepted_rows') }}
),

renamed as (
    select
        upper({{ clean_text('source.uscc') }}) as uscc,
        {{ parse_date(clean_text('source.listed_on')) }} as listed_on,
        {{ clean_text('source.org_name') }} as org_name,
        {{ clean_text('source.reason') }} as reason,
        {{ clean_text('source.authority') }} as authority,
        {{ parse_date(clean_text('source.removed_on')) }} as removed_on,
        source.batch_id,
        source.source_row,
        source.landed_at
    from source
),

latest as (
    {{ latest_per_key('renamed', 'uscc, listed_on') }}
),

final as (
    select
        uscc,
        listed_on,
        {{ is_valid_uscc('uscc') }} as uscc_is_valid,
        org_name,
        reason,
        authority,
        removed_on,
        batch_id,
        source_row
    from latest
)

select * from final

-- One row per listing (统一社会信用代码 + 列入日期): the latest state sent by any accepted batch.
with

source as (
    select * from {{ source('raw', 'credit_blacklist') }}
),

accepted_batches as (
    select
        batch_id,
        landed_at
    from {{ source('raw', 'landing_manifest') }}
    where feed = 'credit_blacklist' and status = 'accepted'
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
        accepted_batches.landed_at
    from source
    inner join accepted_batches on source.batch_id = accepted_batches.batch_id
),

latest as (
    select
        *,
        row_number() over (
            partition by uscc, listed_on order by landed_at desc, source_row desc
        ) as recency
    from renamed
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
    where recency = 1
)

select * from final

-- One row per organic certificate: the latest state sent by any accepted batch.
with

source as (
    select * from {{ source('raw', 'organic') }}
),

accepted_batches as (
    select
        batch_id,
        landed_at
    from {{ source('raw', 'landing_manifest') }}
    where feed = 'organic' and status = 'accepted'
),

renamed as (
    select
        upper({{ clean_text('source.cert_no') }}) as cert_no,
        {{ clean_text('source.organic_kind') }} as organic_kind,
        {{ clean_text('source.org_name') }} as org_name,
        upper({{ clean_text('source.uscc') }}) as uscc,
        {{ clean_text('source.product_name') }} as product_name,
        {{ parse_number(clean_text('source.output_t')) }} as output_t,
        coalesce({{ clean_text('source.in_conversion') }} = '是', false) as in_conversion,
        {{ clean_text('source.body_name') }} as body_name,
        {{ parse_date(clean_text('source.issue_date')) }} as issue_date,
        {{ parse_date(clean_text('source.expiry_date')) }} as expiry_date,
        {{ clean_text('source.status') }} as status,
        {{ clean_text('source.site_address') }} as site_address,
        {{ parse_timestamp(clean_text('source.updated_at')) }} as updated_at,
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
            partition by cert_no
            order by updated_at desc nulls last, landed_at desc, source_row desc
        ) as recency
    from renamed
),

final as (
    select
        cert_no,
        cert_no ~ '-\d+$' as is_sub_certificate,
        organic_kind,
        org_name,
        uscc,
        {{ is_valid_uscc('uscc') }} as uscc_is_valid,
        product_name,
        output_t,
        in_conversion,
        body_name,
        issue_date,
        expiry_date,
        status,
        site_address,
        coalesce(updated_at, cast(issue_date as timestamp)) as updated_at,
        batch_id,
        source_row
    from latest
    where recency = 1
)

select * from final

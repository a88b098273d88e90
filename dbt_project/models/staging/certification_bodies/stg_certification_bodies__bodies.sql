-- One row per certification body (批准号): the latest state sent, scopes split into an array.
with

source as (
    select * from {{ ref('base_certification_bodies__accepted_rows') }}
),

renamed as (
    select
        upper({{ clean_text('source.approval_no') }}) as approval_no,
        {{ clean_text('source.body_name') }} as body_name,
        upper({{ clean_text('source.uscc') }}) as uscc,
        string_to_array(replace({{ clean_text('source.scopes') }}, '；', ';'), ';') as scopes,
        {{ parse_date(clean_text('source.approval_valid_to')) }} as approval_valid_to,
        {{ parse_date(clean_text('source.introduced_on')) }} as introduced_on,
        {{ clean_text('source.suzhou_address') }} as suzhou_address,
        source.batch_id,
        source.source_row,
        source.landed_at
    from source
),

latest as (
    {{ latest_per_key('renamed', 'approval_no') }}
),

final as (
    select
        approval_no,
        body_name,
        uscc,
        scopes,
        scopes && array['绿色产品认证', '有机产品认证', '低碳产品认证', '节能产品认证', '绿色建材产品认证']
            as has_green_scope,
        approval_valid_to,
        introduced_on,
        suzhou_address,
        batch_id,
        source_row
    from latest
)

select * from final

-- One row per organic certificate: the latest state sent by any accepted batch. Incremental in
-- the persistent `staging` schema, like stg_certificates__certificates (read that one's note).
{{ config(
    materialized='incremental',
    schema='staging',
    unique_key='cert_no',
    incremental_strategy='delete+insert',
    indexes=[{'columns': ['cert_no'], 'unique': true}],
    pre_hook="{{ take_new_batches('organic') }}",
) }}

{#- renamed's columns: the ones the table holds before its derived ones (final) -#}
{%- set held_columns = [
    'cert_no',
    'organic_kind',
    'org_name',
    'uscc',
    'product_name',
    'output_t',
    'in_conversion',
    'body_name',
    'issue_date',
    'expiry_date',
    'status',
    'site_address',
    'updated_at',
    'batch_id',
    'source_row',
    'landed_at',
] %}

with

source as (
    {{ new_accepted_rows('organic') }}
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
        source.landed_at
    from source
),

latest as (
    {{ latest_state_with_held('renamed', 'cert_no', held_columns, 'updated_at desc nulls last') }}
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
        source_row,
        landed_at
    from latest
)

select * from final

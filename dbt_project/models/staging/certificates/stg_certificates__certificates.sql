-- One row per certificate: the latest state sent by any accepted batch, typed and cleaned.
-- Incremental, in the persistent `staging` schema: a build reads only the batches accepted since
-- the last (take_new_batches), and re-ranks just the certificates they mention against the row
-- already held, so a night costs in proportion to the day's changes, not to the register.
{{ config(
    materialized='incremental',
    schema='staging',
    unique_key='cert_no',
    incremental_strategy='delete+insert',
    indexes=[{'columns': ['cert_no'], 'unique': true}, {'columns': ['batch_id']}],
    pre_hook="{{ take_new_batches('certificates') }}",
) }}

{#- renamed's columns: the ones the table holds before its derived ones (final) -#}
{%- set held_columns = [
    'cert_no',
    'status',
    'cert_category',
    'cert_program_code',
    'cert_program',
    'standard',
    'org_name',
    'org_id',
    'org_address',
    'source_region_code',
    'body_name',
    'body_approval_no',
    'issue_date',
    'expiry_date',
    'first_issue_date',
    'is_sub_certificate',
    'parent_cert_no',
    'status_changed_on',
    'scope',
    'updated_at',
    'batch_id',
    'source_row',
    'landed_at',
] %}

with

source as (
    {{ new_accepted_rows('certificates') }}
),

renamed as (
    select
        upper({{ clean_text('source.cert_no') }}) as cert_no,
        {{ clean_text('source.status') }} as status,
        {{ clean_text('source.cert_category') }} as cert_category,
        upper({{ clean_text('source.cert_program_code') }}) as cert_program_code,
        {{ clean_text('source.cert_program') }} as cert_program,
        {{ clean_text('source.standard') }} as standard,
        {{ clean_text('source.org_name') }} as org_name,
        upper(replace({{ clean_text('source.org_id') }}, '-', '')) as org_id,
        {{ clean_text('source.org_address') }} as org_address,
        {{ clean_text('source.region_code') }} as source_region_code,
        {{ clean_text('source.body_name') }} as body_name,
        upper({{ clean_text('source.body_approval_no') }}) as body_approval_no,
        {{ parse_date(clean_text('source.issue_date')) }} as issue_date,
        {{ parse_date(clean_text('source.expiry_date')) }} as expiry_date,
        {{ parse_date(clean_text('source.first_issue_date')) }} as first_issue_date,
        coalesce({{ clean_text('source.is_sub_certificate') }} = '是', false) as is_sub_certificate,
        upper({{ clean_text('source.parent_cert_no') }}) as parent_cert_no,
        {{ parse_date(clean_text('source.status_changed_on')) }} as status_changed_on,
        {{ clean_text('source.scope') }} as scope,
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
        status,
        cert_category,
        cert_program_code,
        cert_program,
        standard,
        org_name,
        org_id,
        {{ is_valid_uscc('org_id') }} as org_id_is_uscc,
        org_address,
        source_region_code,
        body_name,
        body_approval_no,
        issue_date,
        expiry_date,
        first_issue_date,
        is_sub_certificate,
        parent_cert_no,
        status_changed_on,
        scope,
        coalesce(updated_at, cast(issue_date as timestamp)) as updated_at,
        batch_id,
        source_row,
        landed_at
    from latest
)

select * from final

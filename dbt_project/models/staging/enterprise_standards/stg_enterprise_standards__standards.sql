-- One row per enterprise standard (标准编号 + 统一社会信用代码): the latest state sent.
with

source as (
    select * from {{ ref('base_enterprise_standards__accepted_rows') }}
),

renamed as (
    select
        upper({{ clean_text('source.standard_no') }}) as standard_no,
        upper({{ clean_text('source.uscc') }}) as uscc,
        {{ clean_text('source.standard_name') }} as standard_name,
        {{ clean_text('source.org_name') }} as org_name,
        {{ parse_date(clean_text('source.published_on')) }} as published_on,
        upper({{ clean_text('source.national_standard') }}) as national_standard,
        {{ clean_text('source.level') }} as level,
        coalesce({{ clean_text('source.is_green') }} = '是', false) as is_green,
        {{ clean_text('source.status') }} as status,
        source.batch_id,
        source.source_row,
        source.landed_at
    from source
),

latest as (
    {{ latest_per_key('renamed', 'standard_no, uscc') }}
),

final as (
    select
        standard_no,
        uscc,
        {{ is_valid_uscc('uscc') }} as uscc_is_valid,
        standard_name,
        org_name,
        published_on,
        national_standard,
        level,
        is_green,
        status,
        batch_id,
        source_row
    from latest
)

select * from final

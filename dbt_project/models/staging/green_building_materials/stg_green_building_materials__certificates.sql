-- One row per graded green building-material certificate: the latest state sent by any
-- accepted batch. Grades written with stars (★★) are normalised to 一星级/二星级/三星级.
with

source as (
    select * from {{ ref('base_green_building_materials__accepted_rows') }}
),

renamed as (
    select
        upper({{ clean_text('source.cert_no') }}) as cert_no,
        {{ clean_text('source.org_name') }} as org_name,
        upper({{ clean_text('source.uscc') }}) as uscc,
        {{ clean_text('source.product_category') }} as product_category,
        {{ clean_text('source.product_model') }} as product_model,
        case replace({{ clean_text('source.grade') }}, '☆', '★')
            when '★' then '一星级'
            when '★★' then '二星级'
            when '★★★' then '三星级'
            else {{ clean_text('source.grade') }}
        end as grade,
        {{ clean_text('source.body_name') }} as body_name,
        {{ parse_date(clean_text('source.issue_date')) }} as issue_date,
        {{ parse_date(clean_text('source.expiry_date')) }} as expiry_date,
        {{ clean_text('source.status') }} as status,
        {{ clean_text('source.plant_address') }} as plant_address,
        source.batch_id,
        source.source_row,
        source.landed_at
    from source
),

latest as (
    {{ latest_per_key('renamed', 'cert_no') }}
),

final as (
    select
        cert_no,
        org_name,
        uscc,
        {{ is_valid_uscc('uscc') }} as uscc_is_valid,
        product_category,
        product_model,
        grade,
        body_name,
        issue_date,
        expiry_date,
        status,
        plant_address,
        batch_id,
        source_row
    from latest
)

select * from final

-- One row per year × district × category of edible agri-product output: the latest figures sent.
with

source as (
    select * from {{ ref('base_agri_output__accepted_rows') }}
),

renamed as (
    select
        cast({{ parse_number(clean_text('source.year')) }} as integer) as output_year,
        {{ clean_text('source.district_name') }} as district_name,
        {{ clean_text('source.category') }} as category,
        {{ parse_number(clean_text('source.total_output_t')) }} as total_output_t,
        {{ parse_number(clean_text('source.green_quality_output_t')) }} as green_quality_output_t,
        source.batch_id,
        source.source_row,
        source.landed_at
    from source
),

latest as (
    {{ latest_per_key('renamed', 'output_year, district_name, category') }}
),

final as (
    select
        output_year,
        district_name,
        category,
        total_output_t,
        green_quality_output_t,
        batch_id,
        source_row
    from latest
)

select * from final

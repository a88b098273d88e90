-- One row per entry of the green-manufacturing lists (list type × level × batch × name × product),
-- in its latest state: a later batch that withdraws or renames an entry repeats it with its
-- original batch, so the newest file's row carries the withdrawal or the new name.
with

source as (
    select * from {{ ref('base_green_manufacturing__accepted_rows') }}
),

renamed as (
    select
        case
            when source.source_file like '绿色工厂名单%' then 'factory'
            when source.source_file like '绿色工业园区名单%' then 'park'
            when source.source_file like '绿色供应链管理示范企业名单%' then 'supply_chain'
            when source.source_file like '绿色设计产品名单%' then 'design_product'
        end as list_type,
        coalesce(
            {{ clean_cell('source.level') }},
            case when source.source_file like '%江苏省%' then '省级' else '国家级' end
        ) as list_level,
        {{ clean_cell('source.batch') }} as list_batch,
        {{ clean_cell('source.name') }} as entry_name,
        {{ normalise_name(clean_cell('source.name')) }} as name_key,
        {{ clean_cell('source.region') }} as region_text,
        {{ clean_cell('source.industry') }} as industry,
        {{ clean_cell('source.assessor') }} as assessor,
        {{ clean_cell('source.product_name') }} as product_name,
        {{ clean_cell('source.product_model') }} as product_model,
        {{ clean_cell('source.withdrawn') }} as withdrawal_text,
        {{ clean_cell('source.renamed_to') }} as renamed_to,
        {{ normalise_name(clean_cell('source.renamed_to')) }} as renamed_to_key,
        source.source_file,
        source.batch_id,
        source.source_row,
        source.landed_at
    from source
),

-- a withdrawal or rename is news about an entry: it wins over the entry's plain listing even when
-- both files land in the same run
latest as (
    {{ latest_per_key('renamed', "list_type, list_level, list_batch, name_key, coalesce(product_model, '')",
                      order_first='withdrawal_text is not null desc, renamed_to is not null desc') }}
),

final as (
    select
        list_type,
        list_level,
        list_batch,
        entry_name,
        name_key,
        renamed_to,
        renamed_to_key,
        region_text,
        industry,
        assessor,
        product_name,
        product_model,
        withdrawal_text,
        withdrawal_text is not null as is_withdrawn,
        -- 移出 2023-01-18 / 撤销（2023年1月18日）: the date the list says
        {{ parse_date("substring(translate(withdrawal_text, '（）', '()') from '(\\d{4}[-/.年]\\d{1,2}[-/.月]\\d{1,2}日?)')") }}
            as withdrawn_on,
        source_file,
        batch_id,
        source_row
    from latest
)

select * from final

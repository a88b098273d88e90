-- Every green-manufacturing list entry, resolved to an enterprise and placed in a region. The lists
-- carry names, not USCCs, so an entry is matched by normalised name (its listed name or its new
-- name after a rename) against every name the other feeds send with a valid USCC. Its region is,
-- in order: the county the list's 地区 names (provincial lists), the matched enterprise's county,
-- a county named in the entry's own name, else 000000 when it says 苏州 only. Entries that name no
-- Suzhou place and match no Suzhou enterprise are elsewhere in Jiangsu or China: `in_suzhou` false.
with

entries as (
    select * from {{ ref('stg_green_manufacturing__entries') }}
),

batches as (
    select * from {{ ref('green_manufacturing_batches') }}
),

sightings as (
    select * from {{ ref('int_enterprises_unioned') }}
),

regions as (
    select * from {{ ref('regions') }}
    where region_level = 'county'
),

names as (
    -- one enterprise per normalised name (the smallest USCC if two ever share one)
    select
        {{ normalise_name('org_name') }} as name_key,
        min(uscc) as uscc,
        count(distinct uscc) as candidates
    from sightings
    group by 1
),

keyed as (
    select
        *,
        list_type || '|' || list_level || '|' || list_batch || '|' || name_key || '|' || coalesce(product_model, '')
            as entry_key
    from entries
),

by_region_text as (
    {{ locate_by_keywords('keyed', 'entry_key', 'region_text') }}
),

by_name as (
    {{ locate_by_keywords('keyed', 'entry_key', 'name_key') }}
),

matched as (
    select
        keyed.entry_key,
        coalesce(current_name.uscc, new_name.uscc) as uscc
    from keyed
    left join names as current_name on keyed.name_key = current_name.name_key
    left join names as new_name on keyed.renamed_to_key = new_name.name_key
),

resolved as (
    select
        keyed.entry_key,
        keyed.list_type,
        keyed.list_level,
        keyed.list_batch,
        batches.announced_on,
        keyed.entry_name,
        keyed.renamed_to,
        keyed.name_key,
        keyed.region_text,
        keyed.product_name,
        keyed.product_model,
        keyed.is_withdrawn,
        keyed.withdrawn_on,
        matched.uscc,
        -- the identity that de-duplicates across lists: the enterprise, else the (new) name
        coalesce(matched.uscc, keyed.renamed_to_key, keyed.name_key) as identity_key,
        coalesce(
            by_region_text.text_region,
            enterprise_region.region_code,
            by_name.text_region,
            case when strpos(keyed.region_text, '苏州') > 0 or strpos(keyed.name_key, '苏州') > 0 then '000000' end
        ) as region_code,
        case
            when by_region_text.text_region is not null then 'list_region'
            when enterprise_region.region_code is not null then 'matched_enterprise'
            when by_name.text_region is not null then 'name'
            when strpos(keyed.region_text, '苏州') > 0 or strpos(keyed.name_key, '苏州') > 0 then 'suzhou_only'
            else 'not_suzhou'
        end as region_method,
        keyed.source_file,
        keyed.source_row
    from keyed
    left join batches on keyed.list_level = batches.list_level and keyed.list_batch = batches.list_batch
    left join by_region_text on keyed.entry_key = by_region_text.entry_key
    left join by_name on keyed.entry_key = by_name.entry_key
    left join matched on keyed.entry_key = matched.entry_key
    left join regions as enterprise_region on substr(matched.uscc, 3, 6) = enterprise_region.region_code
),

final as (
    select
        *,
        region_code is not null as in_suzhou,
        -- on the list on the as-of date: announced by then (unknown batch: taken as announced) and
        -- not withdrawn by then (a withdrawal with no readable date counts as withdrawn)
        coalesce(announced_on, {{ as_of_date() }}) <= {{ as_of_date() }}
        and not (is_withdrawn and coalesce(withdrawn_on <= {{ as_of_date() }}, true)) as is_standing
    from resolved
)

select * from final

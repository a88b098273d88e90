{#- The county-level unit whose keyword appears in a text column (address, district name); the
    longest keyword wins (苏州工业园区 before 园区). Rows whose text names no region are absent. -#}
{% macro locate_by_keywords(relation, key, text_column) -%}
select distinct on ({{ relation }}.{{ key }})
    {{ relation }}.{{ key }},
    keywords.region_code as text_region
from {{ relation }}
inner join {{ ref('int_region_keywords') }} as keywords
    on strpos({{ relation }}.{{ text_column }}, keywords.keyword) > 0
order by {{ relation }}.{{ key }} asc, keywords.keyword_length desc, keywords.region_code asc
{%- endmacro %}

{#- The county-level unit a valid USCC was registered in (characters 3–8), else null. -#}
{% macro uscc_county(uscc_column, valid_column) -%}
(select r.region_code from {{ ref('regions') }} as r
 where {{ valid_column }} and r.region_level = 'county' and r.region_code = substr({{ uscc_column }}, 3, 6))
{%- endmacro %}

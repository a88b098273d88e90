{#- The county-level unit whose address keyword appears in `text` (a column of the outer query: use
    in a lateral join), as text_region with its keyword_length: the longest keyword wins (苏州工业园区
    before 园区), then the smaller code; no row when the text names no region. With `only_if`, the
    keywords are read only for outer rows where it holds (a one-time filter per row). -#}
{% macro keyword_in(text, only_if=none) -%}
select
    keywords.region_code as text_region,
    keywords.keyword_length
from {{ ref('int_region_keywords') }} as keywords
where strpos({{ text }}, keywords.keyword) > 0{% if only_if %} and ({{ only_if }}){% endif %}
order by keywords.keyword_length desc, keywords.region_code asc
limit 1
{%- endmacro %}

{#- One row per key whose text column names a county-level unit (keyword_in); of several rows with one
    key, the longest keyword wins. Keys whose text names no region are absent. -#}
{% macro locate_by_keywords(relation, key, text_column) -%}
select distinct on ({{ relation }}.{{ key }})
    {{ relation }}.{{ key }},
    by_keyword.text_region
from {{ relation }}
cross join lateral ({{ keyword_in(relation ~ '.' ~ text_column) }}) as by_keyword
order by {{ relation }}.{{ key }} asc, by_keyword.keyword_length desc, by_keyword.text_region asc
{%- endmacro %}

{#- The county-level unit a valid USCC was registered in (characters 3–8), else null. -#}
{% macro uscc_county(uscc_column, valid_column) -%}
(select r.region_code from {{ ref('regions') }} as r
 where {{ valid_column }} and r.region_level = 'county' and r.region_code = substr({{ uscc_column }}, 3, 6))
{%- endmacro %}

{#- Full-width to half-width, trimmed, empty -> null: util.clean_text (warehouse/functions.sql). -#}
{% macro clean_text(column) -%}
util.clean_text({{ column }})
{%- endmacro %}

{#- 2023-05-01, 2023/5/1, 2023年5月1日, 20230501 or an Excel serial; anything else (or an impossible
    date) is null, and the row was quarantined at load: util.parse_date (warehouse/functions.sql). -#}
{% macro parse_date(column) -%}
util.parse_date({{ column }})
{%- endmacro %}

{% macro parse_timestamp(column) -%}
util.parse_timestamp({{ column }})
{%- endmacro %}

{#- Numbers with thousands separators ("4,200"); anything else is null: util.parse_number. -#}
{% macro parse_number(column) -%}
util.parse_number({{ column }})
{%- endmacro %}

{#- A name as a matching key: NFKC (full-width → half-width, brackets included), no whitespace,
    and 有限公司 written the same whether or not the source bracketed it. -#}
{% macro normalise_name(column) -%}
nullif(replace(regexp_replace(normalize({{ column }}, nfkc), '\s', '', 'g'), '(有限公司)', '有限公司'), '')
{%- endmacro %}

{#- Spreadsheet exports write empty cells as the literal `nan`: null them like empty text. -#}
{% macro clean_cell(column) -%}
nullif({{ clean_text(column) }}, 'nan')
{%- endmacro %}

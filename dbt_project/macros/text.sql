{#- Full-width digits, letters, brackets and spaces to half-width; trim; empty -> null. -#}
{% macro clean_text(column) -%}
nullif(btrim(translate({{ column }},
    '０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ（）　－／',
    '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz() -/'), E' \t\r\n'), '')
{%- endmacro %}

{#- Dates arrive as 2023-05-01, 2023/5/1, 2023年5月1日, 20230501 or an Excel serial (days since
    1899-12-30). Anything else becomes null here and is caught by the column's tests. -#}
{% macro parse_date(column) -%}
(case
    when {{ column }} ~ '^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}( .*)?$'
        then to_date(substring({{ column }} from '^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2})'), 'YYYY-MM-DD')
    when {{ column }} ~ '^\d{4}年\d{1,2}月\d{1,2}日$'
        then to_date({{ column }}, 'YYYY"年"MM"月"DD"日"')
    when {{ column }} ~ '^\d{8}$' then to_date({{ column }}, 'YYYYMMDD')
    when {{ column }} ~ '^\d{5}(\.0+)?$' then date '1899-12-30' + floor({{ column }}::numeric)::int
end)
{%- endmacro %}

{% macro parse_timestamp(column) -%}
(case
    when {{ column }} ~ '^\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$'
        then cast({{ column }} as timestamp)
    else cast({{ parse_date(column) }} as timestamp)
end)
{%- endmacro %}

{#- Numbers arrive with thousands separators ("4,200"); anything else non-numeric becomes null. -#}
{% macro parse_number(column) -%}
(case
    when replace({{ column }}, ',', '') ~ '^-?\d+(\.\d+)?$' then cast(replace({{ column }}, ',', '') as numeric)
end)
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

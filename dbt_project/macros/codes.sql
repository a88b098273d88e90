{#- 统一社会信用代码 (GB 32100-2015) check character: util.is_valid_uscc (warehouse/functions.sql), the same
    function the load-time row rules use. Returns a boolean SQL expression, false for null. -#}
{% macro is_valid_uscc(column) -%}
util.is_valid_uscc({{ column }})
{%- endmacro %}

{#- The single definition of "in force on date D": issued on or before D, not yet expired on D,
    valid (有效) on D, and a main certificate (a multi-site certificate counts once). Every
    target counts through this macro, via int_certificates_in_force. -#}
{% macro is_in_force(as_of, issue_date='issue_date', expiry_date='expiry_date', status='status_on_date',
                     is_sub='is_sub_certificate') -%}
({{ issue_date }} <= {{ as_of }} and {{ as_of }} < {{ expiry_date }} and {{ status }} = '有效' and not {{ is_sub }})
{%- endmacro %}

{#- The build's as-of date: what prepare_build wrote into the build schema's build_info table (the
    nightly passes no --vars: a value that changed every night would make every dbt call re-parse
    the project). `--vars '{as_of_date: 2025-06-30}'` overrides it for an ad-hoc build. -#}
{% macro as_of_date() -%}
{%- if var("as_of_date", none) is not none -%}
cast('{{ var("as_of_date") }}' as date)
{%- else -%}
(select build_info.as_of_date from {{ target.schema }}.build_info)
{%- endif -%}
{%- endmacro %}

{#- Each certificate's status at the end of the as-of day, from a status history (snapshot): the
    version with the latest 更新时间 on or before that day, and of that version's statements the one
    the later-landed batch made (then the later file row; a row recorded before landed_at was kept:
    the later dbt_updated_at) — what the source says, whatever order the batches were taken in. -#}
{% macro status_on_as_of_date(snapshot, for_key=none) -%}
{#- for_key: the status of the one certificate an outer query names (a lateral join): read through
    the snapshot's (cert_no, updated_at) index, where the whole history would be sorted otherwise -#}
select{% if for_key is none %} distinct on (cert_no){% endif %}
    cert_no,
    status as status_on_date
from {{ snapshot }}
where updated_at < {{ as_of_date() }} + 1{% if for_key is not none %} and cert_no = {{ for_key }}{% endif %}
order by
    cert_no asc, updated_at desc, landed_at desc nulls last, source_row desc nulls last, dbt_updated_at desc
{%- if for_key is not none %}
limit 1
{%- endif %}
{%- endmacro %}

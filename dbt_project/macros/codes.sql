{#- 统一社会信用代码 (GB 32100-2015): 18 characters from the charset below; character 18 is
    31 - (sum of value(c_i) * w_i mod 31), 31 -> 0. Returns a boolean SQL expression. -#}
{% macro is_valid_uscc(column) -%}
{%- set charset = '0123456789ABCDEFGHJKLMNPQRTUWXY' -%}
{%- set weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] -%}
coalesce(
    {{ column }} ~ '^[0-9ABCDEFGHJKLMNPQRTUWXY]{18}$'
    and substr('{{ charset }}', ((31 - ((
        {%- for w in weights %}
        (strpos('{{ charset }}', substr({{ column }}, {{ loop.index }}, 1)) - 1) * {{ w }}{{ ' +' if not loop.last }}
        {%- endfor %}
    ) % 31)) % 31) + 1, 1) = substr({{ column }}, 18, 1),
    false)
{%- endmacro %}

{#- The single definition of "in force on date D": issued on or before D, not yet expired on D,
    valid (有效) on D, and a main certificate (a multi-site certificate counts once). Every
    target counts through this macro, via int_certificates_in_force. -#}
{% macro is_in_force(as_of, issue_date='issue_date', expiry_date='expiry_date', status='status_on_date',
                     is_sub='is_sub_certificate') -%}
({{ issue_date }} <= {{ as_of }} and {{ as_of }} < {{ expiry_date }} and {{ status }} = '有效' and not {{ is_sub }})
{%- endmacro %}

{% macro as_of_date() -%}
cast('{{ var("as_of_date") }}' as date)
{%- endmacro %}

{#- Each certificate's status at the end of the as-of day, from a status history (snapshot). -#}
{% macro status_on_as_of_date(snapshot) -%}
select distinct on (cert_no)
    cert_no,
    status as status_on_date
from {{ snapshot }}
where updated_at < {{ as_of_date() }} + 1
order by cert_no asc, updated_at desc, dbt_updated_at desc
{%- endmacro %}

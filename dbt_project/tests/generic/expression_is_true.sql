{#- Rows where the expression is false fail the test (a null counts as false). -#}
{% test expression_is_true(model, expression) %}
select * from {{ model }} where not coalesce({{ expression }}, false)
{% endtest %}

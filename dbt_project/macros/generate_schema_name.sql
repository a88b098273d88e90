{#- Models and seeds go to the run's build schema (target.schema); a custom schema (snapshots)
    is used as named, because snapshot history must outlive the build it came from. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}

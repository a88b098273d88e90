{#- dbt's snapshot staging query, with the current versions (`snapshotted_data`) inlined where it
    is joined instead of written out: dbt's CTE is read twice, so PostgreSQL materialises it, copying
    every current version of the history (millions at national scale) to join a night's few
    thousand changes. Inlined, each join reads the history through its (cert_no, updated_at) index.
    The query is dbt's own otherwise (dbt-core 1.11's default__snapshot_staging_table). -#}
{% macro postgres__snapshot_staging_table(strategy, source_sql, target_relation) -%}
{%- set staging_sql = dbt.default__snapshot_staging_table(strategy, source_sql, target_relation) -%}
{%- if 'snapshotted_data as (' not in staging_sql -%}
    {{ exceptions.raise_compiler_error("dbt's snapshot staging query changed shape: review macros/snapshot_staging.sql") }}
{%- endif -%}
{{ staging_sql | replace('snapshotted_data as (', 'snapshotted_data as not materialized (', 1) }}
{%- endmacro %}

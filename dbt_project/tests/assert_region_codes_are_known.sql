-- Every region code a model assigns is one of dim_region's (a county-level unit, 000000 未定位 or
-- the city 320500). One test over all of them, rather than a relationships test per model: each
-- of those would be its own task in the nightly DAG, for the same check.
{#- the models that place records, and every target's fact model (dbt_project.yml vars.counting_rules) -#}
{%- set models = [
    'int_certificates_located', 'int_certificates_in_force', 'int_green_food_products_located',
    'int_organic_certificates_in_force', 'int_green_manufacturing_resolved', 'int_green_manufacturing_listed',
    'dim_enterprise', 'fct_dishonest_green_certificate_holders', 'fct_green_manufacturing_unmatched_names',
    'fct_target_progress', 'region_code_aliases',
] + fact_models() %}

with

assigned as (
    {%- for model in models %}
        select
            '{{ model }}' as model_name,
            region_code
        from {{ ref(model) }}
        where region_code is not null
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

known as (
    select region_code from {{ ref('dim_region') }}
)

select
    assigned.model_name,
    assigned.region_code,
    count(*) as rows_with_it
from assigned
where assigned.region_code not in (select known.region_code from known)
group by assigned.model_name, assigned.region_code

-- Every region code a model assigns is one of dim_region's (a county-level unit, 000000 未定位 or
-- the city 320500). One test over all of them, rather than a relationships test per model: each
-- of those would be its own task in the nightly DAG, for the same check.
{%- set models = [
    'int_certificates_located', 'int_certificates_in_force', 'int_green_food_products_located',
    'int_organic_certificates_in_force', 'int_green_manufacturing_resolved', 'int_green_manufacturing_listed',
    'dim_enterprise', 'fct_t01_green_factories', 'fct_t02_green_food_certificates', 'fct_t03_organic_certificates',
    'fct_t04_green_quality_agri_share', 'fct_t05_service_certificates', 'fct_t06_ems_certificates',
    'fct_t07_energy_water_low_carbon_product_certificates', 'fct_t08_green_building_material_certificates',
    'fct_t09_enms_certificates', 'fct_t10_green_enterprise_standards', 'fct_t11_green_certification_bodies',
    'fct_t12_enterprise_pool_members', 'fct_indicator_certificates', 'fct_indicator_green_manufacturing',
    'fct_dishonest_green_certificate_holders', 'fct_green_manufacturing_unmatched_names', 'fct_target_progress',
    'region_code_aliases',
] %}

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

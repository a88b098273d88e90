{#- The policy's targets and indicators as counted: dbt_project.yml vars.counting_rules, the one
    definition (feed, fact model, rule, ratio columns per target). Everything that lists targets
    or their facts reads it through these macros: the one-line fact models (target_fact),
    fct_target_progress (count_facts, ratio_facts), dim_policy_target (target_feed) and the test
    assert_region_codes_are_known (fact_models). -#}
{% macro counting_rules() %}
    {{ return(var('counting_rules')) }}
{% endmacro %}

{#- The fact models, each once, in the definition's order. -#}
{% macro fact_models() %}
    {%- set models = [] %}
    {%- for rule in counting_rules().values() if rule.fact not in models %}
        {%- do models.append(rule.fact) %}
    {%- endfor %}
    {{ return(models) }}
{% endmacro %}

{#- Count facts: fact model -> the targets it answers, whose actual is the number of its rows. -#}
{% macro count_facts() %}
    {%- set facts = {} %}
    {%- for target_id, rule in counting_rules().items() if rule.ratio is not defined %}
        {%- if rule.fact not in facts %}{% do facts.update({rule.fact: []}) %}{% endif %}
        {%- do facts[rule.fact].append(target_id) %}
    {%- endfor %}
    {{ return(facts) }}
{% endmacro %}

{#- Ratio facts: fact model -> (target, numerator column, denominator column); one target each. -#}
{% macro ratio_facts() %}
    {%- set facts = {} %}
    {%- set counted = count_facts() %}
    {%- for target_id, rule in counting_rules().items() if rule.ratio is defined %}
        {%- if rule.fact in facts or rule.fact in counted %}
            {{ exceptions.raise_compiler_error(
                "counting_rules: " ~ target_id ~ " is a ratio; its fact " ~ rule.fact ~ " answers another target") }}
        {%- endif %}
        {%- do facts.update({rule.fact: (target_id, rule.ratio[0], rule.ratio[1])}) %}
    {%- endfor %}
    {{ return(facts) }}
{% endmacro %}

{#- The feed a target is counted from (dim_policy_target.source_feeds): a SQL expression of the
    column holding the target's id, null for a target with no counting rule. -#}
{% macro target_feed(target_id_column) -%}
case {{ target_id_column }}
    {%- for target_id, rule in counting_rules().items() %}
    when '{{ target_id }}' then '{{ rule.feed }}'
    {%- endfor %}
end
{%- endmacro %}

{#- A fact model whose rule is shared (rule: certificates_in_force): the model's file is this one
    call naming its target(s) — every target the definition gives that fact, all of one rule. -#}
{% macro target_fact(target_ids) %}
    {%- set target_ids = [target_ids] if target_ids is string else target_ids %}
    {%- set rules = counting_rules() %}
    {%- for target_id in target_ids if target_id not in rules %}
        {{ exceptions.raise_compiler_error("counting_rules has no entry for " ~ target_id) }}
    {%- endfor %}
    {%- set first = rules[target_ids[0]] %}
    {%- set answered = count_facts().get(first.fact, []) %}
    {%- if answered | sort != target_ids | sort %}
        {{ exceptions.raise_compiler_error(
            "counting_rules gives " ~ first.fact ~ " the targets " ~ answered ~ ", the call names " ~ target_ids) }}
    {%- endif %}
    {%- for target_id in target_ids if rules[target_id].rule != first.rule %}
        {{ exceptions.raise_compiler_error(first.fact ~ ": its targets have different rules") }}
    {%- endfor %}
    {%- if first.rule == 'certificates_in_force' %}
        {{ return(certificates_in_force_fact(target_ids)) }}
    {%- else %}
        {{ exceptions.raise_compiler_error(
            "target_fact: rule " ~ first.rule ~ " of " ~ target_ids ~ " is not a shared rule (own: write the model)") }}
    {%- endif %}
{% endmacro %}

{#- Rule certificates_in_force: one row per certificate of the certificates feed in force on the
    as-of date whose program (programs seed) counts towards one of the given targets. -#}
{% macro certificates_in_force_fact(target_ids) %}
with

in_force as (
    select * from {{ ref('int_certificates_in_force') }}
),

final as (
    select
        as_of_date,
        target_id,
        cert_no,
        cert_program,
        org_name,
        org_id,
        region_code,
        region_method,
        body_name,
        issue_date,
        expiry_date
    from in_force
    where target_id in ('{{ target_ids | join("', '") }}')
)

select * from final
{% endmacro %}

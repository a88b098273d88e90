-- bi.policy_targets over marts.dim_policy_target: the BI contract (_bi__models.yml), built as a view in the
-- build schema and moved into `bi` by the publish transaction (plugins/greencert/publish/swap.py).
select
    dim_policy_target.target_id,
    dim_policy_target.target_kind,
    dim_policy_target.clause,
    dim_policy_target.indicator_zh,
    dim_policy_target.metric_en,
    dim_policy_target.unit_zh,
    dim_policy_target.comparator,
    dim_policy_target.target_value,
    dim_policy_target.baseline_value,
    dim_policy_target.policy_start,
    dim_policy_target.deadline,
    dim_policy_target.source_feeds,
    dim_policy_target.responsible_departments,
    dim_policy_target.target_note
from {{ ref('dim_policy_target') }} as dim_policy_target

-- bi.target_progress over marts.fct_target_progress: the BI contract (_bi__models.yml), built as a view in the
-- build schema and moved into `bi` by the publish transaction (plugins/greencert/publish/swap.py).
select
    fct_target_progress.as_of_date,
    fct_target_progress.target_id,
    fct_target_progress.target_kind,
    fct_target_progress.clause,
    fct_target_progress.indicator_zh,
    fct_target_progress.unit_zh,
    fct_target_progress.region_code,
    fct_target_progress.region_name_zh,
    fct_target_progress.region_level,
    fct_target_progress.is_fed,
    fct_target_progress.numerator_value,
    fct_target_progress.denominator_value,
    fct_target_progress.actual_value,
    fct_target_progress.comparator,
    fct_target_progress.target_value,
    fct_target_progress.percent_of_target,
    fct_target_progress.trajectory_value,
    fct_target_progress.projected_value,
    fct_target_progress.progress_status
from {{ ref('fct_target_progress') }} as fct_target_progress

-- bi.target_progress_history over history.target_progress_history (stg_history__target_progress, inlined): the BI contract (_bi__models.yml), built as a view in the
-- build schema and moved into `bi` by the publish transaction (plugins/greencert/publish/swap.py).
select
    target_progress_history.snapshot_date,
    target_progress_history.target_id,
    target_progress_history.region_code,
    target_progress_history.region_name,
    target_progress_history.numerator_value,
    target_progress_history.denominator_value,
    target_progress_history.actual_value,
    target_progress_history.target_value,
    target_progress_history.percent_of_target,
    target_progress_history.trajectory_value,
    target_progress_history.projected_value,
    target_progress_history.progress_status,
    target_progress_history.published_at
from {{ ref('stg_history__target_progress') }} as target_progress_history

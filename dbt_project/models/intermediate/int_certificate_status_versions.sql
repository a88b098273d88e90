-- The status versions (certificate × 更新时间) in the
-- batches snp_certificates__status takes in its run: what that snapshot adds, so no state is lost between two
-- builds. A view, evaluated inside the snapshot's own transaction (macro take_new_batches):
-- queried at any other time it is empty, which is why its tests live on the snapshot.
{{ config(materialized='view') }}

with

final as (
    {{ status_versions('certificates', taken_by='snp_certificates__status') }}
)

select * from final

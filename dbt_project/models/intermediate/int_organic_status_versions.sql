-- Every status version of every organic certificate ever sent (certificate × 更新时间; issue date
-- when the source sent no 更新时间): what the organic status history snapshot records.
with

final as (
    {{ status_versions('organic') }}
)

select * from final

-- Every status version of every certificate ever sent (certificate × 更新时间): what the status
-- history snapshot records, so that no state is lost between two builds.
with

final as (
    {{ status_versions('certificates') }}
)

select * from final

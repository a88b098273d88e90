-- One row per batch that passed the raw gate: which feeds have sent data (a target whose feed has
-- none is 未接入).
with

source as (
    select * from {{ source('loader', 'landing_manifest') }}
),

final as (
    select
        batch_id,
        feed,
        logical_date,
        landed_at
    from source
    where status = 'accepted'
)

select * from final

-- bi.enterprises over marts.dim_enterprise: the BI contract (_bi__models.yml), built as a view in the
-- build schema and moved into `bi` by the publish transaction (plugins/greencert/publish/swap.py).
select
    dim_enterprise.enterprise_id,
    dim_enterprise.enterprise_name,
    dim_enterprise.region_code,
    array_to_string(dim_enterprise.feeds, ', ') as feeds,
    dim_enterprise.is_seriously_dishonest,
    dim_enterprise.dishonest_listed_on,
    dim_enterprise.dishonest_reason
from {{ ref('dim_enterprise') }} as dim_enterprise

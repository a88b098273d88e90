-- bi.regions over marts.dim_region: the BI contract (_bi__models.yml), built as a view in the
-- build schema and moved into `bi` by the publish transaction (plugins/greencert/publish/swap.py).
select
    dim_region.region_code,
    dim_region.region_name_zh,
    dim_region.region_name_en,
    dim_region.region_level,
    dim_region.parent_region_code,
    dim_region.sort_order
from {{ ref('dim_region') }} as dim_region

-- bi.certificates_in_force over marts.fct_green_certificates_in_force: the BI contract (_bi__models.yml), built as a view in the
-- build schema and moved into `bi` by the publish transaction (plugins/greencert/publish/swap.py).
select
    fct_green_certificates_in_force.as_of_date,
    fct_green_certificates_in_force.source_feed,
    fct_green_certificates_in_force.target_id,
    fct_green_certificates_in_force.certificate_no,
    fct_green_certificates_in_force.uscc,
    fct_green_certificates_in_force.org_name,
    fct_green_certificates_in_force.region_code,
    fct_green_certificates_in_force.issue_date,
    fct_green_certificates_in_force.expiry_date
from {{ ref('fct_green_certificates_in_force') }} as fct_green_certificates_in_force

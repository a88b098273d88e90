-- Certificates in force on the as-of date, through the one definition (macro is_in_force), with
-- each certificate's status on that date taken from the status history (snapshot), so a past
-- date is answered as it stood then.
with

located as (
    select * from {{ ref('int_certificates_located') }}
),

final as (
    select
        {{ as_of_date() }} as as_of_date,
        located.cert_no,
        located.cert_program,
        located.target_id,
        located.org_name,
        located.org_id,
        located.region_code,
        located.region_method,
        located.body_name,
        located.issue_date,
        located.expiry_date,
        status_on_date.status_on_date
    from located
    -- the version in effect at the end of the as-of day, looked up for the certificates the dates
    -- leave in (a tenth of the history at national scale)
    cross join
        lateral (
            {{ status_on_as_of_date(ref('snp_certificates__status'), for_key='located.cert_no') }}
        ) as status_on_date
    where {{ is_in_force(as_of_date(), issue_date='located.issue_date', expiry_date='located.expiry_date',
                         is_sub='located.is_sub_certificate') }}
)

select * from final

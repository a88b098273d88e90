-- Indicators without a number that the certificates feed answers (I01–I05): one row per
-- certificate in force on the as-of date, with the indicator it counts towards.
{{ target_fact(['I01', 'I02', 'I03', 'I04', 'I05']) }}

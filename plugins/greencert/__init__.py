"""greencert: the Suzhou green-certification warehouse (苏府办〔2022〕140号).

Sub-packages are named after what they do: feeds (the registry), extract, load,
quality, publish, report, warehouse (the embedded PostgreSQL and its roles), cli.
"""

"""Load: stream landed files into raw.<feed> with PostgreSQL COPY (all columns text)."""

"""Quality: Great Expectations suites (raw batches and audited marts), run inside PostgreSQL."""

"""Extract: take files from the sources into landing/, immutably, listed in raw.landing_manifest."""

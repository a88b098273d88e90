"""Publish: the atomic swap of an audited build into the published schemas (write-audit-publish)."""

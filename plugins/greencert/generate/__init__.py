"""Deterministic sample data for the feeds, written exactly to their contracts (Chinese headers)."""

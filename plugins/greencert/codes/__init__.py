"""Codes that must be checked, not trusted: USCC (GB 32100-2015) and organisation codes (GB 11714)."""

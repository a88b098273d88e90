"""Report: what the office reads — the target-progress table (HTML/XLSX reports arrive with issue 6)."""

"""The paper: statistics, analyses, figures and the report, computed from tables (no torch)."""

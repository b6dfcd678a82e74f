"""Planning and collecting runs: the configuration, run folders, provenance checks and tables."""

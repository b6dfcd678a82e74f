"""Training: everything one run (or one seed batch) needs, and nothing about pipelines or papers."""

"""rpg-bench: reproducible policy-gradient benchmarks in PyTorch."""

__version__ = "0.1.0"

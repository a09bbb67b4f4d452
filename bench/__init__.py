"""The benchmarks of quality.md (`python -m bench`): figures as ratios to same-run ceilings."""

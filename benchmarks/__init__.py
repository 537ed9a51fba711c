"""Benchmarks: code that measures, not timed tests (docs: ENGINEERING.md, "Performance").

`python -m benchmarks [NAME ...] [--quick] [--set PARAM=VALUE]` runs them and writes `.bench/results.json`, a
flat {figure name: number} dict, next to `.bench/meta.json` (machine, date, commit, parameters, wall times).
The machines are shared and noisy, so every figure is a median, a count, or a ratio of two things measured
in the same run; nothing here asserts a time.
"""

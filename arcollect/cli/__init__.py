"""The `arcollect` command line (never shipped to Lambda)."""

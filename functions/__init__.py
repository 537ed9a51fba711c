"""Lambda entry points: one folder per function, each a thin handler over the `shared` domain package."""

"""Protecting sensitive values: TIN encryption and fingerprints."""

"""Onboarding: the checks on master data (TIN, AP email) and the workflow state."""

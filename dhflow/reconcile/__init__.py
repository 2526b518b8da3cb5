"""Reconciling a plan with the jobs a database holds: new, unchanged, rerun or orphaned, and why. Pure."""

"""Stage 3: the space and its samplers, and the expansion of rules into tasks."""

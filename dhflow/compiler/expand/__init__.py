"""Stage 3: expressions, templates, the space and its samplers, and the expansion of rules into tasks."""

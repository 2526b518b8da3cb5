"""`dhflow init`: a new, working experiment from a template (pure file copying)."""

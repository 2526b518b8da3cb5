"""The expression and template languages of a .dhflow file: a safe evaluator and `{name}` templates."""

"""Stage 2: the AST to a typed Spec (``model``, ``builder``), then ``rules``: every check, all diagnostics at once."""

"""Stage 1: source text to a parse tree (lark) to frozen AST nodes with spans."""

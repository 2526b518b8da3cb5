"""Use cases: submit, run, status/results/history/clean, the database. Plain values in, result objects out."""

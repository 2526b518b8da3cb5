"""Say which dataset was summarized (the per-dataset gather step)."""
import sys

print(f"summarized {sys.argv[1]}")

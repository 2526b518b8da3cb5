"""Reading results back: objectives of finished jobs, progress counts, output formats."""

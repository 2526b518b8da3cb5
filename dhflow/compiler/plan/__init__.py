"""Stage 4: the frozen Plan (tasks, apps, content keys), its stable JSON, graphs and table."""

"""Plans: tasks."""

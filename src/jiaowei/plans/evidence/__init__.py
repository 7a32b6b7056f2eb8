"""Plans: evidence."""

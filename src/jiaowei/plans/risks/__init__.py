"""Plans: risks."""

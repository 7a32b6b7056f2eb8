"""Plans: ledger."""

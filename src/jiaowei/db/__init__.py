"""Shared storage plumbing: metadata, engine, transactions, migrations."""

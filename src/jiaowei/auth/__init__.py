"""Accounts, roles, unit scopes, sessions and API tokens."""

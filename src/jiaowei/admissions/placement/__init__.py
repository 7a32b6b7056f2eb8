"""Placement (统筹) reports: who was left without a place, by district (campaign page, API, CLI)."""

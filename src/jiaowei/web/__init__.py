"""The web layer: app factory, request plumbing, error handling, shared templates."""

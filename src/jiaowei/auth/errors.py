"""Errors of the auth domain are the shared ones; named here for a reader's map."""

from jiaowei.errors import NotAuthenticated, PermissionDenied, TooManyAttempts

__all__ = ["NotAuthenticated", "PermissionDenied", "TooManyAttempts"]

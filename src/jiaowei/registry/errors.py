"""Registry errors are the shared ones; named here for a reader's map."""

from jiaowei.errors import Conflict, NotFound, Problem, ValidationError

__all__ = ["Conflict", "NotFound", "Problem", "ValidationError"]

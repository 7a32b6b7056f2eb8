"""The hash-chained audit log: who changed what, when, with values before and after."""

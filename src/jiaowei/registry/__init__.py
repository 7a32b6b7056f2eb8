"""The registry: every unit of the system as a hierarchy that changes over time."""

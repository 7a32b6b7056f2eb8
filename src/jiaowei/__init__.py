"""jiaowei: the platform a city's education-and-health commission runs its system on."""

__version__ = "0.1.0"

"""Demo data sets. ``shanghai2020`` loads the Shanghai 2020 system: real city-level units,
synthetic schools, kindergartens and childcare points below them, and one user per role."""

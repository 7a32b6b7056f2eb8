"""Background jobs: an import runs in a worker thread while its page shows the progress."""

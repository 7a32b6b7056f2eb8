"""The ``jiaowei`` command: thin Typer commands over the services; each command is one transaction."""

"""The Jobs View surfaces: the CLI (and, later, the web app and Prefect artifacts)."""

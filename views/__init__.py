"""The Jobs View surfaces: the CLI, and the web app in ``views.web``."""

"""The web Jobs View (FastAPI + Jinja2): pages, live fragments and the JSON API."""

from views.web.app import create_app
from views.web.launcher import Launcher

__all__ = ["Launcher", "create_app"]

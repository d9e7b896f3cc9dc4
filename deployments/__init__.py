"""Recurring syncs on Prefect: the deployments of ``tenants.toml``, served or rendered into
``prefect.yaml``, the shipped auto-resume automation, and the web's hand-off to them."""

from deployments.auto_resume import AutoResume, auto_resumes
from deployments.config import DeploymentSpec, deployment_name, load_specs
from deployments.render import render
from deployments.serve import serve_all

__all__ = [
    "AutoResume",
    "DeploymentSpec",
    "auto_resumes",
    "deployment_name",
    "load_specs",
    "render",
    "serve_all",
]

import pytest


@pytest.fixture(autouse=True)
def _prefect(prefect_server: None) -> None:
    """Every flow test talks to the session's Prefect server."""

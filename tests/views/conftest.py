import pytest


@pytest.fixture(autouse=True)
def _prefect(prefect_server: None) -> None:
    """CLI runs talk to the session's Prefect server."""

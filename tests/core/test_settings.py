from __future__ import annotations

from pathlib import Path

import pytest

from chunking import SyncSize
from core import ConfigError, load_settings
from core.settings import TaskRunnerKind


def test_defaults_match_the_design() -> None:
    s = load_settings()
    assert s.database_url == "sqlite:///jobsview.db"
    assert s.destination == s.database_url
    assert s.source_base == "http://127.0.0.1:8765"
    assert s.source_token is None and s.api_token is None
    assert s.resources == ("contacts", "deals")
    assert s.sync_size is SyncSize.MEDIUM
    assert (s.page_size, s.max_concurrent_chunks, s.chunk_retries) == (100, 4, 3)
    assert (s.stale_after_seconds, s.watermark_lag_seconds) == (60, 300)
    assert s.task_runner is TaskRunnerKind.THREADS and s.dask_address is None


def test_reads_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("JOBSVIEW_SYNC_SIZE=large\nJOBSVIEW_PAGE_SIZE=250\n")
    monkeypatch.setenv("JOBSVIEW_RESOURCES", " contacts , deals,tickets ")
    monkeypatch.setenv("JOBSVIEW_DESTINATION_URL", "sqlite:///dest.db")
    s = load_settings()
    assert s.sync_size is SyncSize.LARGE and s.page_size == 250
    assert s.resources == ("contacts", "deals", "tickets")
    assert s.destination == "sqlite:///dest.db"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("JOBSVIEW_SYNC_SIZE", "huge", "'small', 'medium', 'large' or 'xlarge'"),
        ("JOBSVIEW_TASK_RUNNER", "celery", "'threads' or 'dask'"),
        ("JOBSVIEW_PAGE_SIZE", "0", "greater than 0"),
        ("JOBSVIEW_MAX_CONCURRENT_CHUNKS", "many", "valid integer"),
        ("JOBSVIEW_SOURCE_URL", "not a url", "URL"),
        ("JOBSVIEW_DATABASE_URL", "nope", "not a database URL"),
        ("JOBSVIEW_RESOURCES", "Contacts;deals", "invalid resource name"),
        ("JOBSVIEW_RESOURCES", ",", "at least one resource"),
        ("JOBSVIEW_SOURCE_RATE_LIMIT", "inf", "finite number"),
        ("JOBSVIEW_SOURCE_RATE_LIMIT", "nan", "finite number"),
        ("JOBSVIEW_SOURCE_RATE_LIMIT", "-1", "greater than or equal to 0"),
        ("JOBSVIEW_HTTP_TIMEOUT_SECONDS", "inf", "finite number"),
        ("JOBSVIEW_MAX_CHUNKS_PER_JOB", "0", "greater than 0"),
    ],
)
def test_invalid_values_name_the_variable_and_the_valid_values(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert name in str(info.value)
    assert expected in str(info.value)
    assert "Value error" not in str(info.value)  # pydantic's prefix means nothing here


def test_tokens_are_secret_and_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSVIEW_SOURCE_TOKEN", "s3cret-source")
    monkeypatch.setenv("JOBSVIEW_API_TOKEN", "s3cret-api")
    s = load_settings()
    assert s.source_token is not None and s.source_token.get_secret_value() == "s3cret-source"
    assert "s3cret" not in repr(s) and "s3cret" not in str(s.model_dump())


def test_empty_token_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSVIEW_SOURCE_TOKEN", "")
    assert load_settings().source_token is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JOBSVIEW_SOURCE_URL", "ftp://user:hunter2@source.example"),
        ("JOBSVIEW_DATABASE_URL", "postgresql://user:hunter2@db.example:port/x"),
        ("JOBSVIEW_DESTINATION_URL", "postgresql://user:hunter2@db.example:port/x"),
    ],
)
def test_invalid_url_messages_mask_the_password(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert name in str(info.value) and "user:***@" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_credentials_in_the_source_url_beside_a_token_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBSVIEW_SOURCE_URL", "http://user:hunter2@source.example")
    assert load_settings().source_url.password == "hunter2"  # alone, it is Basic auth
    monkeypatch.setenv("JOBSVIEW_SOURCE_TOKEN", "tok")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "JOBSVIEW_SOURCE_URL holds a user name or password" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_drift_margin_defaults_to_one_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSVIEW_PAGE_SIZE", "250")
    assert load_settings().margin == 250
    monkeypatch.setenv("JOBSVIEW_DRIFT_MARGIN", "0")
    assert load_settings().margin == 0


def test_allowed_hosts_are_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSVIEW_ALLOWED_HOSTS", " Jobs.Example.com ,10.0.0.5:8000")
    assert load_settings().allowed_hosts == ("jobs.example.com", "10.0.0.5:8000")


def test_overrides_go_on_top_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSVIEW_PAGE_SIZE", "250")
    monkeypatch.setenv("JOBSVIEW_CHUNK_RETRIES", "5")
    s = load_settings(page_size=40)
    assert (s.page_size, s.chunk_retries) == (40, 5)


def test_a_bad_override_names_its_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(page_size=0)
    assert "JOBSVIEW_PAGE_SIZE" in str(info.value) and "greater than 0" in str(info.value)


def test_the_environment_of_settings_reads_back_as_the_same_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = load_settings(
        database_url="sqlite:///x.db",
        source_token="s3cret",
        resources=("contacts", "tickets"),
        task_runner="dask",
        chunk_retry_delay_seconds=0.5,
        drift_margin=0,
    )
    env = s.environment()
    assert env["JOBSVIEW_SOURCE_TOKEN"] == "s3cret" and env["JOBSVIEW_TASK_RUNNER"] == "dask"
    assert "JOBSVIEW_DESTINATION_URL" not in env  # unset stays unset
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings() == s

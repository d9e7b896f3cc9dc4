"""The recurring syncs' config, prefect.yaml's render and the served deployments: no server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from core.errors import ConfigError
from core.settings import Settings
from deployments import auto_resumes, load_specs, render
from deployments.render import PREFECT_FILE
from deployments.serve import runner_deployment
from views.cli import app


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tenants.toml"
    path.write_text(text)
    return path


def test_the_committed_prefect_yaml_is_a_render_of_tenants_toml() -> None:
    settings = Settings()
    expected = render(
        load_specs(),
        settings.auto_resume_attempts,
        settings.auto_resume_delay_seconds,
        settings.stale_after_seconds,
    )
    assert PREFECT_FILE.read_text() == expected, "run `jobsview deployments render`"
    result = CliRunner().invoke(app, ["deployments", "render", "--check"])
    assert result.exit_code == 0 and "up to date" in result.stdout


def test_render_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "prefect.yaml"
    stale.write_text("name: old\n")
    result = CliRunner().invoke(app, ["deployments", "render", "--check", "--output", str(stale)])
    assert result.exit_code == 1 and "out of date" in result.stderr


def test_each_tenant_gets_a_partial_and_a_full_deployment(tmp_path: Path) -> None:
    specs = load_specs(
        write(
            tmp_path,
            '[defaults]\npartial = "0 * * * *"\nfull = "30 2 * * *"\n'
            '[tenants.acme]\n[tenants.globex]\ntimezone = "Europe/Berlin"\nfull = "0 3 * * 0"\n',
        )
    )
    assert [(s.name, s.cron, s.timezone) for s in specs] == [
        ("acme-partial", "0 * * * *", "UTC"),
        ("acme-full", "30 2 * * *", "UTC"),
        ("globex-partial", "0 * * * *", "Europe/Berlin"),
        ("globex-full", "0 3 * * 0", "Europe/Berlin"),
    ]
    assert specs[3].parameters == {"tenant": "globex", "sync_type": "full"}
    assert specs[3].tags == ["jobsview", "tenant:globex", "sync-type:full"]


def test_the_render_merges_its_anchors_into_complete_deployments() -> None:
    specs = load_specs()
    document = yaml.safe_load(render(specs, attempts=2, delay_seconds=60, stale_after_seconds=60))
    deployments = {d["name"]: d for d in document["deployments"]}
    assert set(deployments) == {s.name for s in specs} | {"reconcile"}
    upkeep = deployments["reconcile"]
    assert upkeep["entrypoint"] == "flows.maintenance:maintenance"
    assert upkeep["schedules"] == [{"interval": 30}]
    assert "concurrency_limit" not in upkeep  # a dead worker's run would hold its slot
    (crashed,) = upkeep["triggers"]
    assert crashed["expect"] == ["prefect.flow-run.Crashed"]
    assert crashed["match_related"] == {
        "prefect.resource.role": "flow",
        "prefect.resource.name": "sync-job",
    }
    globex = deployments["globex-full"]
    assert globex["entrypoint"] == "flows.sync_job:sync_job"
    assert globex["work_pool"] == {"name": "jobsview", "work_queue_name": "default"}
    assert globex["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    assert globex["schedules"] == [{"cron": "0 3 * * *", "timezone": "Europe/Berlin"}]
    assert globex["parameters"] == {"tenant": "globex", "sync_type": "full"}
    first, second = globex["triggers"]
    assert first["expect"] == ["jobsview.job.incomplete"] and first["enabled"] is True
    assert first["match"]["jobsview.deployment"] == "globex-full"
    assert (first["match"]["jobsview.resume-depth"], first["schedule_after"]) == ("0", 60)
    assert (second["match"]["jobsview.resume-depth"], second["schedule_after"]) == ("1", 120)
    assert first["parameters"] == {"resume_of": "{{ event.resource['jobsview.job-id'] }}"}
    assert document["pull"] == []
    text = PREFECT_FILE.read_text().lower()
    assert "token:" not in text and "password" not in text and "postgresql" not in text


def test_auto_resume_waits_longer_each_attempt_and_stops() -> None:
    resumes = auto_resumes("acme-full", attempts=3, delay_seconds=30)
    assert [(r.attempt, r.delay_seconds) for r in resumes] == [(1, 30), (2, 60), (3, 120)]
    assert [r.match["jobsview.resume-depth"] for r in resumes] == ["0", "1", "2"]
    trigger = resumes[1].trigger()
    assert trigger.expect == {"jobsview.job.incomplete"}  # never failed or cancelled
    assert trigger.schedule_after == timedelta(seconds=60)
    assert auto_resumes("acme-full", attempts=0, delay_seconds=30) == []


def test_served_deployments_match_prefect_yaml() -> None:
    spec = next(s for s in load_specs() if s.name == "globex-full")
    deployment = runner_deployment(spec, Settings(auto_resume_attempts=1))
    assert deployment.name == "globex-full" and deployment.entrypoint == "flows.sync_job.sync_job"
    assert deployment.parameters == spec.parameters and deployment.tags == spec.tags
    assert deployment.concurrency_limit == 1
    assert deployment.concurrency_options is not None
    assert deployment.concurrency_options.collision_strategy.value == "ENQUEUE"
    (schedule,) = deployment.schedules or []
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 3 * * *", "Europe/Berlin")
    assert len(deployment.triggers) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[tenants."Bad Name"]\n', "invalid tenant name 'Bad Name'"),
        ('[defaults]\npartial = "61 * * * *"\n[tenants.acme]\n', "Invalid cron string"),
        ('[defaults]\nfull = "hourly"\n[tenants.acme]\n', "is not a five-field cron"),
        ('[tenants.acme]\ntimezone = "Mars/Olympus"\n', "Invalid timezone"),
        ('[tenants.acme]\nsync_size = "large"\n', "unknown setting 'sync_size'"),
        ("[defaults]\n", "name at least one tenant"),
        ("[tenants.acme\n", "cannot read"),
    ],
)
def test_bad_config_names_what_is_wrong(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"tenants\.toml") as info:
        load_specs(write(tmp_path, text))
    assert expected in str(info.value)

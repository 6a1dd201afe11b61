"""docker-compose.yml and the Dockerfile: the production stack, read as data.

No Docker engine runs the tests, so they check the structure the stack relies on: one
beat that cannot be scaled, a health check and a restart policy on every long-running
service, volumes for the database, the broker and media, gunicorn with its config file,
and the contract's variables on every Sutong service.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.processes import ROOT

CONTRACT = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"}
ONE_SHOT = {"migrate", "minio-bucket"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def sutong_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services that run Sutong's own image (built from the Dockerfile)."""
    return {name: service for name, service in services.items() if "build" in service}


def long_running(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in services.items() if name not in ONE_SHOT}


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else list(command)


def volume_names(service: dict[str, Any]) -> dict[str, str]:
    """Named volume → mount point."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        mounts[source] = target
    return mounts


def test_the_stack_has_every_part(services: dict[str, dict[str, Any]]) -> None:
    assert {"db", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_exactly_one_beat_which_cannot_be_scaled(services: dict[str, dict[str, Any]]) -> None:
    beats = [name for name, service in services.items() if "beat" in command_of(service)]
    assert beats == ["beat"]
    beat = services["beat"]
    assert beat["deploy"]["replicas"] == 1
    # Compose refuses to scale a service with a fixed container name.
    assert beat["container_name"]
    assert "scale" not in beat


def test_workers_scale_and_are_told_apart(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    command = command_of(worker)
    assert command[:4] == ["celery", "-A", "config", "worker"]
    assert "--hostname=worker@%h" in command  # one name per container
    assert "container_name" not in worker
    assert worker.get("deploy", {}).get("replicas", 1) >= 1
    assert "ports" not in worker


def test_every_long_running_service_has_a_health_check_and_a_restart_policy(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in long_running(services).items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert service.get("restart") in {"always", "unless-stopped", "on-failure"}, name
    for name in ONE_SHOT & set(services):
        assert services[name]["restart"] == "no", f"{name} runs once"


def test_the_health_checks_are_the_cheap_ones(services: dict[str, dict[str, Any]]) -> None:
    assert services["web"]["healthcheck"]["test"] == ["CMD", "python", "-m", "ops.probe"]
    for process in ("worker", "beat"):
        test = services[process]["healthcheck"]["test"]
        assert test == ["CMD", "python", "manage.py", "check_heartbeat", process]
        assert not any("inspect" in part for part in test)
    assert "pg_isready" in services["db"]["healthcheck"]["test"]
    assert "ping" in services["redis"]["healthcheck"]["test"]


def test_sutong_waits_for_healthy_services_and_the_migration(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    assert "migrate" in " ".join(command_of(services["migrate"]))


def test_web_runs_gunicorn_with_its_config_file(services: dict[str, dict[str, Any]]) -> None:
    assert command_of(services["web"]) == [
        "gunicorn",
        "-c",
        "config/gunicorn.conf.py",
        "config.wsgi",
    ]
    assert (ROOT / "config" / "gunicorn.conf.py").is_file()


def test_the_image_runs_gunicorn_with_its_config_file_and_has_s3(
    services: dict[str, dict[str, Any]],
) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]' in dockerfile
    assert re.search(r'pip install .*"\.\[s3\]"', dockerfile)
    # Every package the app needs is copied before the install.
    for package in ("config", "accounts", "api", "complaints", "intake", "notifications"):
        assert f"COPY {package} {package}" in dockerfile
    for package in ("ops", "reporting", "routing", "sla"):
        assert f"COPY {package} {package}" in dockerfile


def test_volumes_keep_the_database_the_broker_and_media(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose["volumes"])
    assert volume_names(services["db"])["pgdata"] == "/var/lib/postgresql/data"
    assert volume_names(services["redis"])["redisdata"] == "/data"
    for name in ("web", "worker", "migrate"):
        mounts = volume_names(services[name])
        assert mounts["media"] == services[name]["environment"]["MEDIA_ROOT"], name
    for service in services.values():
        assert set(volume_names(service)) <= declared


def test_redis_keeps_the_queue_in_an_append_only_file(
    services: dict[str, dict[str, Any]],
) -> None:
    command = command_of(services["redis"])
    assert command[command.index("--appendonly") + 1] == "yes"


def test_every_sutong_service_gets_the_contract_variables(
    services: dict[str, dict[str, Any]],
) -> None:
    sutong = sutong_services(services)
    assert {"migrate", "web", "worker", "beat"} <= set(sutong)
    for name, service in sutong.items():
        environment = service["environment"]
        assert set(environment) >= CONTRACT, f"{name} misses {CONTRACT - set(environment)}"
        assert str(environment["DEBUG"]) == "0"
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"].startswith("redis://redis:")


def test_s3_media_is_an_optional_profile(services: dict[str, dict[str, Any]]) -> None:
    assert services["minio"]["profiles"] == ["s3"]
    assert services["minio-bucket"]["profiles"] == ["s3"]
    assert "anonymous set none" in " ".join(services["minio-bucket"]["entrypoint"])
    for name, service in sutong_services(services).items():
        assert "minio" not in service.get("depends_on", {}), f"{name} must start without s3"
        environment = service["environment"]
        assert environment["MEDIA_STORAGE"] == "${MEDIA_STORAGE:-file}"
        assert "AWS_STORAGE_BUCKET_NAME" in environment


def test_secrets_and_local_state_stay_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "var", ".git", ".env"} <= ignored


def test_the_web_node_is_stateless(services: dict[str, dict[str, Any]]) -> None:
    # Sessions in the database and cache in Redis (settings), media in a shared volume
    # or bucket: nothing a second web node would miss.
    assert "container_name" not in services["web"]
    assert set(volume_names(services["web"])) == {"media"}


def test_the_readme_explains_scaling_out() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Production", 1)[1].split("\n## ", 1)[0]
    for topic in ("load balancer", "--scale worker", "one beat", "REPORTS_DATABASE_URL"):
        assert topic in section, topic
    assert "SECURE_PROXY_SSL_HEADER" in section
    assert "MEDIA_STORAGE=s3" in section

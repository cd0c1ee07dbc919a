"""The container, kept right by reading: the Dockerfile and compose.yaml against the rules an
operator relies on (no daemon can run here, so nothing is built or started).

- base images pinned by digest; third-party packages only from lock files, with hashes;
  the issuer installed from its wheel, never editable; an unprivileged user;
- a health check on /readyz (ready: database and keys), not /healthz (merely alive);
- migrations run once, by a one-shot service the issuer waits for;
- restart policies; secrets (the database password, the KEK, the metrics token) from an
  env file whose template is committed, never written in compose.yaml;
- /metrics answers nobody on the published port without the metrics token.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    parsed = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            parsed.append((keyword.upper(), rest.strip()))
    return parsed


def build_args() -> dict[str, str]:
    return dict(
        rest.split("=", 1) for keyword, rest in instructions() if keyword == "ARG" and "=" in rest
    )


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def lock_requirements(name: str) -> dict[str, str]:
    """name → the requirement's text (with its --hash options) from a pip-compile lock."""
    text = re.sub(r"\\\n", " ", (ROOT / "requirements" / name).read_text())
    entries = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = line.split()[0]
            entries[re.split(r"[=<>~!;\[]", requirement)[0].lower().replace("_", "-")] = line
    return entries


def test_every_base_image_is_pinned_by_digest() -> None:
    args = build_args()
    images = [rest.split()[0] for keyword, rest in instructions() if keyword == "FROM"]
    assert len(images) >= 2
    for image in images:
        resolved = re.sub(r"\$\{?(\w+)\}?", lambda m: args[m.group(1)], image)
        assert DIGEST.search(resolved), f"{image} ({resolved}) is not pinned by digest"


def test_packages_come_from_the_lock_files_with_hashes_and_never_editable() -> None:
    runs = " ".join(rest for keyword, rest in instructions() if keyword == "RUN")
    installs = re.findall(r"pip install [^&;]*", runs)
    assert installs
    for install in installs:
        assert "-e " not in install and "--editable" not in install, install
        if " -r " in install:
            assert "--require-hashes" in install and "--no-deps" in install, install
        else:  # only the wheel built from this checkout, nothing from an index
            assert re.search(r"--no-deps /wheels/issuer-\*\.whl$", install.strip()), install
    assert "-r requirements/server.lock" in runs and "-r requirements/build.lock" in runs
    assert "--no-build-isolation" in runs  # the build backend is the locked one


@pytest.mark.parametrize("lock", ["server.lock", "build.lock"])
def test_the_lock_files_pin_every_package_with_hashes(lock: str) -> None:
    entries = lock_requirements(lock)
    assert entries
    for name, line in entries.items():
        assert re.match(r"[\w.-]+==[\w.+-]+ ", line), f"{name} is not pinned: {line[:80]}"
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", line), f"{name} has no hash"


def test_the_server_lock_covers_the_server_extra_and_the_build_lock_the_backend() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = (
        project["project"]["dependencies"] + project["project"]["optional-dependencies"]["server"]
    )
    names = {re.split(r"[=<>~!;\[ ]", spec)[0].lower().replace("_", "-") for spec in wanted}
    assert names <= set(lock_requirements("server.lock")), names - set(
        lock_requirements("server.lock")
    )
    backend = project["build-system"]["requires"]
    assert {re.split(r"[=<>~!; ]", spec)[0] for spec in backend} <= set(
        lock_requirements("build.lock")
    )


def test_the_image_runs_unprivileged_and_checks_readiness() -> None:
    stage = final_stage()
    users = [rest for keyword, rest in stage if keyword == "USER"]
    assert users, "the final stage must switch to an unprivileged user"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    [healthcheck] = [rest for keyword, rest in stage if keyword == "HEALTHCHECK"]
    assert "/readyz" in healthcheck and "/healthz" not in healthcheck
    [command] = [rest for keyword, rest in stage if keyword == "CMD"]
    assert "--no-migrate" in command and "serve" in command
    # Nothing of the checkout in the final stage: only the built virtual environment.
    copies = [rest for keyword, rest in stage if keyword == "COPY"]
    assert copies == ["--from=build /opt/issuer /opt/issuer"]


def test_migrations_run_once_before_the_issuer(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate, issuer = services["migrate"], services["issuer"]
    assert migrate["command"] == ["issuer", "migrate"]
    assert migrate["restart"] == "no"
    assert issuer["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert issuer["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert "--no-migrate" in issuer["command"]
    # One image for both, built from this checkout.
    assert migrate["image"] == issuer["image"] and migrate["build"] == issuer["build"] == "."


def test_long_running_services_restart(compose: dict[str, Any]) -> None:
    for name in ("postgres", "issuer"):
        assert compose["services"][name]["restart"] in ("unless-stopped", "always"), name


def test_compose_images_are_pinned_by_digest(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" not in service and service["image"] != compose["services"]["migrate"]["image"]:
            assert DIGEST.search(service["image"]), f"{name}: {service['image']}"


def secret_values(compose: dict[str, Any]) -> dict[str, str]:
    found = {}
    for name, service in compose["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|KEK|TOKEN|DATABASE_URL", variable):
                found[f"{name}.{variable}"] = str(value)
    return found


def test_secrets_come_from_the_env_file_never_from_compose(compose: dict[str, Any]) -> None:
    secrets = secret_values(compose)
    assert {
        "postgres.POSTGRES_PASSWORD",
        "issuer.ISSUER_KEK",
        "issuer.ISSUER_METRICS_TOKEN",
    } <= set(secrets)
    required: set[str] = set()
    for where, value in secrets.items():
        if where.endswith("DATABASE_URL"):
            password = re.match(r"\w+(?:\+\w+)?://[^:/@]+:([^@]*)@", value)
            assert password and VARIABLE.fullmatch(password.group(1)), f"{where}: {value}"
            required.add(VARIABLE.fullmatch(password.group(1)).group(1))  # type: ignore[union-attr]
            continue
        match = VARIABLE.fullmatch(value)
        assert match, f"{where} is written in compose.yaml: {value!r}"
        assert "?" in value, f"{where} must be required (${{NAME:?…}}), not defaulted"
        required.add(match.group(1))
    template = (ROOT / ".env.example").read_text()
    offered = {line.split("=", 1)[0] for line in template.splitlines() if "=" in line[:40]}
    assert required <= offered, required - offered
    # The template holds no secret values, only their names.
    for line in template.splitlines():
        name, _, value = line.partition("=")
        if name in required:
            assert value == "", f"{name} has a value in .env.example"
    assert "/.env" in (ROOT / ".gitignore").read_text().splitlines()


def test_metrics_are_not_open_on_the_published_port(compose: dict[str, Any]) -> None:
    issuer = compose["services"]["issuer"]
    assert issuer["ports"] == ["8000:8000"]
    assert VARIABLE.fullmatch(issuer["environment"]["ISSUER_METRICS_TOKEN"])
    assert "ports" not in compose["services"]["postgres"]


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "ignore everything, then allow what the image needs"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "requirements", "issuer", "migrations"}
    copied = {
        rest.split()[0].rstrip("/")
        for keyword, rest in instructions()
        if keyword == "COPY" and not rest.startswith("--from")
    }
    assert copied <= allowed

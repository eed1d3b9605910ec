"""The deployment recipe (deploy/): what can be checked without building its containers.

The services themselves run as local processes in `make test-servers`; here every setting
the recipe passes is one Settings knows, and every command it runs is one the CLI has."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml
from typer.testing import CliRunner

from deepdiary.cli import app
from deepdiary.core.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
FIELDS = {f"DEEPDIARY_{name.upper()}" for name in Settings.model_fields}


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {k: v for k, v in pairs}


def test_every_setting_the_recipe_passes_is_a_setting():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    env = compose["x-deepdiary"]["environment"]
    named = {k for k in env if k.startswith("DEEPDIARY_")}
    assert named <= FIELDS and {"DEEPDIARY_DATABASE_URL", "DEEPDIARY_CHROMA_URL", "DEEPDIARY_S3_BUCKET",
                                "DEEPDIARY_BROKER_URL"} <= named
    example = {k: v for k, v in _env_file(DEPLOY / "env.example").items() if k.startswith("DEEPDIARY_")}
    assert set(example) <= FIELDS
    settings = Settings(**{k.removeprefix("DEEPDIARY_").lower(): v for k, v in example.items()})
    assert settings.library_namespace == "family" and settings.catalogue_url.startswith("postgresql+psycopg://")
    # Only the API is published, and on loopback; the servers stay on the compose network.
    published = {name: svc.get("ports") for name, svc in compose["services"].items() if svc.get("ports")}
    assert list(published) == ["api"] and all(p.startswith("127.0.0.1:") for p in published["api"])


def test_every_command_the_recipe_runs_is_one_the_cli_has():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    commands = [svc["command"] for name, svc in compose["services"].items() if name in ("api", "worker")]
    for unit in (DEPLOY / "systemd").glob("*.service"):
        start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
        commands.append(shlex.split(start.removeprefix("ExecStart=")))
    assert len(commands) == 4
    runner = CliRunner()
    for command in commands:
        assert Path(command[0]).name == "deepdiary"
        got = runner.invoke(app, [command[1], "--help"])
        assert got.exit_code == 0, (command, got.output)
        for option in (a for a in command[2:] if a.startswith("--")):
            assert option in got.output, (command, option)

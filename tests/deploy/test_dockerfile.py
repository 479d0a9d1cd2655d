"""The image's Dockerfile agrees with the code: entrypoint, command, ports, healthcheck, context."""

import tomllib

from taskhook.http import probes
from taskhook.settings import ConsumerSettings, Settings
from tests.deploy.dockerfile import ROOT, stages
from tests.deploy.manifests import ingest_routes, parse_command


def test_the_entrypoint_is_the_console_script_and_the_default_command_is_serve() -> None:
    runtime = stages()["runtime"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert runtime.last("ENTRYPOINT").exec_form() == ["taskhook"]
    assert "taskhook" in scripts
    assert parse_command(runtime.last("CMD").exec_form()).command == "serve"


def test_the_image_exposes_the_ingest_port() -> None:
    exposed = stages()["runtime"].last("EXPOSE").arguments.split()
    assert str(Settings.model_fields["port"].default) in exposed


def test_consumer_port_is_exposed_by_the_image() -> None:
    exposed = stages()["runtime"].last("EXPOSE").arguments.split()
    assert str(ConsumerSettings.model_fields["consumer_port"].default) in exposed


def test_the_healthcheck_asks_the_liveness_route_on_the_configured_port() -> None:
    python, flag, program = stages()["runtime"].last("HEALTHCHECK").exec_form()
    assert (python, flag) == ("python", "-c")
    assert f"/{ingest_routes()[probes.healthz].strip('/')}'" in program
    default_port = Settings.model_fields["port"].default
    assert f"os.environ.get('TASKHOOK_PORT', '{default_port}')" in program


def test_the_runtime_stage_gets_the_builders_venv_and_installs_nothing() -> None:
    """No compiler or package manager runs in the final image: it only receives the venv."""
    builder, runtime = stages()["builder"], stages()["runtime"]
    (copy,) = runtime.all("COPY")
    venv = builder.env()["VIRTUAL_ENV"]
    assert (copy.flag("from"), copy.arguments.split()) == ("builder", [venv, venv])
    assert runtime.env()["PATH"].startswith(f"{venv}/bin:")
    for run in runtime.all("RUN"):
        assert not {"apt-get", "apt", "pip", "gcc"} & set(run.arguments.split())


def test_everything_the_build_copies_gets_past_the_dockerignore() -> None:
    """The .dockerignore lets through only what is named; a new COPY must be named there too."""
    allowed = {
        line.removeprefix("!")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for copy in stages()["builder"].all("COPY"):
        *sources, _ = copy.arguments.split()
        assert set(sources) <= allowed
        assert all((ROOT / source).exists() for source in sources)


def test_the_image_user_is_numeric_and_not_root() -> None:
    uid, _, gid = stages()["runtime"].last("USER").arguments.partition(":")
    assert int(uid) > 0
    assert int(gid) > 0

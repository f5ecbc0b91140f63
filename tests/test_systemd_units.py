"""The systemd examples in deploy/systemd/ run what the Procfile runs, hardened, with stop
timeouts that let gunicorn and rq finish what they hold; `systemd-analyze verify` where the
machine has it."""

from __future__ import annotations

import ast
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from honcho.environ import parse_procfile

from bot.cli import main as cli
from bot.queue import CITY_JOB_TIMEOUT
from bot.settings import Settings
from tests.processes import ROOT

UNITS = ROOT / "deploy" / "systemd"
APP = "/opt/intake311"  # where the examples expect the checkout, its venv in .venv
ENV_FILE = "/etc/intake311/intake311.env"
# Unit file -> the Procfile line it runs.
PROCESSES = {
    "intake311-migrate.service": "release",
    "intake311-web.service": "web",
    "intake311-worker@.service": "worker",
    "intake311-cityworker.service": "cityworker",
    "intake311-cron.service": "cron",
}
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
}
# rq's pooled workers kill a job this long past its timeout (bot.worker.Pool).
HARD_KILL_MARGIN = 15


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections, each key's values in order (systemd allows repeats)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in (UNITS / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{name}: {line!r} before any section"
        key, sep, value = line.partition("=")
        assert sep, f"{name}: {line!r} is not key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(name: str, section: str, key: str) -> str:
    values = unit(name)[section].get(key, [])
    assert len(values) == 1, f"{name}: [{section}] {key} given {len(values)} times"
    return values[0]


def seconds(value: str) -> int:
    """A systemd time span in whole seconds ("20", "20s", "15min")."""
    for suffix, factor in (("min", 60), ("s", 1)):
        if value.endswith(suffix):
            return int(value.removesuffix(suffix)) * factor
    return int(value)


def gunicorn_setting(name: str) -> int:
    """A number set in gunicorn.conf.py, read without running the file."""
    tree = ast.parse((ROOT / "gunicorn.conf.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f"gunicorn.conf.py sets no {name}")


def test_every_procfile_process_has_a_unit_running_the_same_command():
    procfile = parse_procfile((ROOT / "Procfile").read_text()).processes
    assert set(PROCESSES.values()) == set(procfile)
    for name, process in PROCESSES.items():
        argv = shlex.split(one(name, "Service", "ExecStart"))
        program = Path(argv[0])
        assert program.parent == Path(APP) / ".venv" / "bin", name
        assert program.name in {"intake311", "gunicorn"}, name
        # The Procfile's words, with the unit's absolute paths and instance made relative.
        words = [program.name, *(a.removeprefix(APP + "/") for a in argv[1:])]
        expected = shlex.split(procfile[process])
        if "%i" in words:  # the template's instance is the number of processes
            at = words.index("%i")
            words[at] = expected[at]
        assert words == expected, f"{name} runs {words}, the Procfile {expected}"
        if program.name == "intake311":
            assert cli.get_command(None, words[1]) is not None, f"{name}: no `{words[1]}`"
        else:
            assert (ROOT / words[words.index("-c") + 1]).is_file()


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_units_are_hardened_and_read_their_settings_from_the_env_file(name):
    service = unit(name)["Service"]
    assert service["User"] == ["intake311"]
    assert service["EnvironmentFile"] == [ENV_FILE]
    assert service["WorkingDirectory"] == [APP]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{name}: {key}"
    # No setting in the unit beyond where to listen: secrets live in the env file alone.
    for value in service.get("Environment", []):
        assert value.split("=", 1)[0] == "PORT", f"{name}: Environment={value}"
    if name == "intake311-migrate.service":
        assert service["Type"] == ["oneshot"]
        assert "Restart" not in service
    else:
        assert service["Restart"] == ["on-failure"]
        assert unit(name)["Unit"]["Requires"] == ["intake311-migrate.service"]
        assert "intake311-migrate.service" in " ".join(unit(name)["Unit"]["After"])
    writes = [*service.get("ReadWritePaths", []), *service.get("StateDirectory", [])]
    if name in {"intake311-web.service", "intake311-worker@.service"}:
        # The media store's local folder (the web serves it, the workers fill it).
        assert "/var/lib/intake311" in service["ReadWritePaths"], name
        assert service["RuntimeDirectory"] == ["intake311"]  # METRICS_DIR under /run
    assert all(path.startswith(("/var/lib/intake311", "intake311")) for path in writes)


def test_the_migration_is_ordered_before_the_processes():
    before = " ".join(unit("intake311-migrate.service")["Unit"]["Before"]).split()
    for name in PROCESSES:
        if name not in {"intake311-migrate.service", "intake311-worker@.service"}:
            assert name in before
    assert "intake311-migrate.service" in unit("intake311-worker@.service")["Unit"]["After"][0]


def test_stop_timeouts_let_gunicorn_and_rq_finish_what_they_hold():
    graceful = gunicorn_setting("graceful_timeout")
    web_stop = seconds(one("intake311-web.service", "Service", "TimeoutStopSec"))
    assert graceful < web_stop <= graceful + 10
    resident_job = Settings.model_fields["lock_timeout"].default // 2  # JOB_TIMEOUT's default
    worker_stop = seconds(one("intake311-worker@.service", "Service", "TimeoutStopSec"))
    assert worker_stop >= resident_job + HARD_KILL_MARGIN
    city_stop = seconds(one("intake311-cityworker.service", "Service", "TimeoutStopSec"))
    assert city_stop >= CITY_JOB_TIMEOUT + HARD_KILL_MARGIN
    for name in ("intake311-web.service", "intake311-worker@.service"):
        # SIGTERM to the main process only: gunicorn's master, the pool's supervisor.
        assert one(name, "Service", "KillMode") == "mixed"
        assert one(name, "Service", "KillSignal") == "SIGTERM"


def test_the_env_file_example_names_only_real_settings():
    names = {field.upper() for field in Settings.model_fields}
    lines = (UNITS / "intake311.env.example").read_text().splitlines()
    given = dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    # Read from the environment directly: gunicorn.conf.py's and bot.metrics_dir's.
    outside = set(given) - names - {"WEB_CONCURRENCY", "PORT", "METRICS_DIR"}
    assert not outside, f"not settings: {sorted(outside)}"
    assert given["ENV"] == "production"
    secrets = ("ADMIN_TOKEN", "METRICS_TOKEN", "CONSOLE_SECRET_KEY", "WEBCHAT_SECRET")
    for secret in (*secrets, "TWILIO_AUTH_TOKEN"):
        assert "CHANGE-ME" in given[secret], secret  # a placeholder, never a value


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    bin_dir = Path(sys.executable).parent  # this checkout's venv, wherever it is
    for path in UNITS.iterdir():
        text = path.read_text().replace(f"{APP}/.venv/bin", str(bin_dir))
        text = text.replace(ENV_FILE, str(UNITS / "intake311.env.example"))
        (tmp_path / path.name).write_text(text.replace(APP, str(ROOT)))
    template = tmp_path / "intake311-worker@.service"
    shutil.copy(template, tmp_path / "intake311-worker@3.service")
    names = [n for n in PROCESSES if "@" not in n] + ["intake311-worker@3.service"]
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and not said, said

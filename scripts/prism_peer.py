#!/usr/bin/env python3
"""Run Stoplight's Prism on a provider's own API description: the part the social peers share.

scripts/mastodon_peer.py, scripts/x_peer.py and scripts/graph_peer.py each name a spec and the
changes of their `--fixed` copy; this module installs the pinned Prism from npm, writes the copy
it serves, starts `prism mock` detached on 127.0.0.1 and stops it again. Each served port keeps
its state (the served spec, a log, a pid file, its mode) under the system's temporary directory
(`$SOCIAL_PEER_HOME` overrides). Nothing of the specs or of Prism is kept in this project.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PRISM_VERSION = "5.14.2"  # the newest that runs on Node 20 (5.15.10 and later want Node 24)
PRISM_PACKAGE = "@stoplight/prism-cli"

# A peer's `load` reads what the user named into an OpenAPI document; its `fix` changes that
# document in place for `--fixed` and returns the words describing what it changed.
Load = Callable[[Path], dict]
Fix = Callable[[dict], list[str]]


def home() -> Path:
    """Where each served port keeps its state."""
    return Path(os.environ.get("SOCIAL_PEER_HOME") or Path(tempfile.gettempdir()) / "social-peers")


def state_dir(name: str, port: int) -> Path:
    """The state directory of the Prism serving `name` on `port`."""
    return home() / f"{name}-{port}"


def prism_bin(prefix: Path) -> Path:
    """The Prism executable an `install` into `prefix` left."""
    return prefix / "node_modules" / ".bin" / "prism"


def install(prefix: Path, version: str) -> None:
    """npm install the pinned Prism into `prefix` (no install scripts run)."""
    prefix.mkdir(parents=True, exist_ok=True)
    cmd = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund"]
    cmd += ["--ignore-scripts", f"{PRISM_PACKAGE}@{version}"]
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    out = subprocess.run(
        [str(prism_bin(prefix)), "--version"], check=True, capture_output=True, text=True
    )
    print(f"prism {out.stdout.strip()} in {prefix}")


def wait_http(state: Path, port: int, seconds: float = 120) -> None:
    """Wait until something answers HTTP on `port` (Prism takes a while to read a spec)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
            conn.request("GET", "/")
            conn.getresponse().read()
            return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"nothing answers on port {port}; see {state}/prism.log")
        time.sleep(0.5)


def alive(pidfile: Path) -> int | None:
    """The pid in `pidfile` when that process still runs."""
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def up(
    name: str, document: dict, port: int, mode: str, errors: bool, dynamic: bool = False
) -> None:
    """Serve `document` with Prism on 127.0.0.1:`port`, detached; print its base URL."""
    state = state_dir(name, port)
    state.mkdir(parents=True, exist_ok=True)
    pidfile = state / "prism.pid"
    running = alive(pidfile)
    if running:
        raise SystemExit(f"already running (pid {running}); `down --port {port}` first")
    prefix = Path(os.environ.get("PRISM_PREFIX", ""))
    binary = prism_bin(prefix)
    if not binary.exists():
        raise SystemExit(f"no Prism in {prefix!s}: run `install DIR` and pass --prism DIR")
    served = state / f"{name}.json"
    served.write_text(json.dumps(document), encoding="utf-8")
    (state / "mode").write_text(mode + "\n")
    cmd = [str(binary), "mock", "-p", str(port), "-h", "127.0.0.1", str(served)]
    if errors:
        cmd.insert(2, "--errors")
    if dynamic:
        cmd.insert(2, "--dynamic")
    print("+", " ".join(cmd), file=sys.stderr)
    with open(state / "prism.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    pidfile.write_text(str(proc.pid))
    wait_http(state, port)
    print(f"prism pid {proc.pid} ({mode}); log {state / 'prism.log'}", file=sys.stderr)
    print(f"http://127.0.0.1:{port}")


def status(name: str) -> None:
    """Each port's Prism for `name`: running or stopped, and what it serves."""
    for state in sorted(home().glob(f"{name}-*")):
        pid = alive(state / "prism.pid")
        mode = (state / "mode").read_text().strip() if (state / "mode").exists() else "?"
        print(f"{state.name}: {f'running pid {pid}' if pid else 'stopped'} ({mode})")


def down(name: str, port: int) -> None:
    """Stop the Prism serving `name` on `port` (its own process group only)."""
    pidfile = state_dir(name, port) / "prism.pid"
    pid = alive(pidfile)
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        print(f"stopped {pid}")
    else:
        print("not running")
    pidfile.unlink(missing_ok=True)


def main(
    name: str,
    doc: str,
    spec_env: str,
    spec_help: str,
    load: Load,
    fix: Fix,
    port: int,
    dynamic_fixed: bool = False,
) -> None:
    """The command line every social peer shares: install, up, status, down.

    `dynamic_fixed`: the fixed copy is served with `--dynamic` (answers generated from the
    schemas, for a spec without examples)."""
    p = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("install", help="npm install the pinned Prism into a directory")
    i.add_argument("prefix", type=Path)
    i.add_argument("--version", default=PRISM_VERSION)
    u = sub.add_parser("up", help="serve the spec with Prism")
    u.add_argument("spec", type=Path, nargs="?", help=f"{spec_help} (or ${spec_env})")
    u.add_argument("--prism", type=Path, help="the directory given to install (or $PRISM_PREFIX)")
    u.add_argument("--port", type=int, default=port)
    u.add_argument("--fixed", action="store_true", help="serve the fixed copy (see above)")
    sub.add_parser("status")
    d = sub.add_parser("down")
    d.add_argument("--port", type=int, default=port)
    a = p.parse_args()
    if a.cmd == "install":
        install(a.prefix, a.version)
    elif a.cmd == "up":
        spec = a.spec or (Path(os.environ[spec_env]) if os.environ.get(spec_env) else None)
        if spec is None:
            raise SystemExit(f"name the spec: `up SPEC` or ${spec_env}")
        if a.prism:
            os.environ["PRISM_PREFIX"] = str(a.prism)
        document = load(spec)
        if a.fixed:
            changes = fix(document) + (["--dynamic"] if dynamic_fixed else [])
            up(name, document, a.port, "fixed: " + "; ".join(changes), False, dynamic_fixed)
        else:
            up(name, document, a.port, "as published, --errors", errors=True)
    elif a.cmd == "status":
        status(name)
    else:
        down(name, a.port)

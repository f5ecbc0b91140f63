#!/usr/bin/env python3
"""Serve Twilio's own OpenAPI description with Stoplight's Prism, as a peer for our Twilio sends.

Nobody here wrote either part: the spec is twilio/twilio-oai's `spec/json/twilio_api_v2010.json`
(fetch the repository yourself at the commit named in docs/twilio-peer.md; nothing of it is kept
in this project) and Prism comes from npm at a pinned version. Prism checks every request
against the spec (422 with the violations when one is not valid) and answers with the spec's
examples. Each served port keeps its state (the spec it serves, a log, a pid file) under the
system's temporary directory (`$TWILIO_PEER_HOME` overrides).

    twilio_peer.py install DIR                       # npm install of the pinned Prism into DIR
    twilio_peer.py up SPEC --prism DIR --port 4010   # the spec as published, `prism mock --errors`
    twilio_peer.py up SPEC --prism DIR --port 4011 --fixed
    twilio_peer.py status
    twilio_peer.py down --port 4010

`--fixed` works around two gaps docs/twilio-peer.md describes: the served copy declares how the
form's array fields are encoded (without it Prism reads a repeated `MediaUrl` as one string and
refuses every send with a photo), and Prism runs without `--errors` (with it, the spec's own
Messages-list examples fail their schema and every list answers 500); requests are still checked.
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
from pathlib import Path

PRISM_VERSION = "5.14.2"  # the newest that runs on Node 20 (5.15.10 and later want Node 24)
PRISM_PACKAGE = "@stoplight/prism-cli"
CREATE_MESSAGE = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
FORM = "application/x-www-form-urlencoded"


def home() -> Path:
    """Where each served port keeps its state."""
    return Path(os.environ.get("TWILIO_PEER_HOME") or Path(tempfile.gettempdir()) / "twilio-peer")


def state_dir(port: int) -> Path:
    """The state directory of the Prism serving `port`."""
    return home() / f"prism-{port}"


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


def declare_form_arrays(spec: dict) -> list[str]:
    """Add `encoding` (style form, exploded) for the array fields of the Messages create form.

    OpenAPI's default for a form is exactly that, but Prism only splits repeated keys into a
    list when the encoding is written out. Returns the fields it declared.
    """
    body = spec["paths"][CREATE_MESSAGE]["post"]["requestBody"]["content"][FORM]
    arrays = [
        name for name, prop in body["schema"]["properties"].items() if prop.get("type") == "array"
    ]
    encoding = body.setdefault("encoding", {})
    for name in arrays:
        encoding.setdefault(name, {"style": "form", "explode": True})
    return arrays


def wait_http(port: int, seconds: float = 120) -> None:
    """Wait until something answers HTTP on `port` (Prism takes a while to read the spec)."""
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
            raise SystemExit(f"nothing answers on port {port}; see {state_dir(port)}/prism.log")
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


def up(spec_path: Path, prefix: Path, port: int, fixed: bool) -> None:
    """Serve the spec (or its fixed copy) with Prism on 127.0.0.1:`port`, detached."""
    state = state_dir(port)
    state.mkdir(parents=True, exist_ok=True)
    pidfile = state / "prism.pid"
    running = alive(pidfile)
    if running:
        raise SystemExit(f"already running (pid {running}); `down --port {port}` first")
    binary = prism_bin(prefix)
    if not binary.exists():
        raise SystemExit(f"no Prism in {prefix}: run `install {prefix}` first")
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    served = state / "twilio_api_v2010.json"
    mode = "as published"
    if fixed:
        mode = f"fixed: form arrays declared ({', '.join(declare_form_arrays(spec))}), no --errors"
    served.write_text(json.dumps(spec), encoding="utf-8")
    (state / "mode").write_text(mode + "\n")
    cmd = [str(binary), "mock", "-p", str(port), "-h", "127.0.0.1", str(served)]
    if not fixed:
        cmd.insert(2, "--errors")
    print("+", " ".join(cmd), file=sys.stderr)
    with open(state / "prism.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    pidfile.write_text(str(proc.pid))
    wait_http(port)
    print(f"prism pid {proc.pid} on 127.0.0.1:{port} ({mode}); log {state / 'prism.log'}")


def status() -> None:
    """Each port's Prism: running or stopped, and what it serves."""
    for state in sorted(home().glob("prism-*")):
        pid = alive(state / "prism.pid")
        mode = (state / "mode").read_text().strip() if (state / "mode").exists() else "?"
        print(f"{state.name}: {f'running pid {pid}' if pid else 'stopped'} ({mode})")


def down(port: int) -> None:
    """Stop the Prism serving `port` (its own process group only)."""
    pidfile = state_dir(port) / "prism.pid"
    pid = alive(pidfile)
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        print(f"stopped {pid}")
    else:
        print("not running")
    pidfile.unlink(missing_ok=True)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("install", help="npm install the pinned Prism into a directory")
    i.add_argument("prefix", type=Path)
    i.add_argument("--version", default=PRISM_VERSION)
    u = sub.add_parser("up", help="serve a twilio_api_v2010.json with Prism")
    u.add_argument("spec", type=Path, help="spec/json/twilio_api_v2010.json of twilio-oai")
    u.add_argument("--prism", type=Path, required=True, help="the directory given to install")
    u.add_argument("--port", type=int, default=4010)
    u.add_argument("--fixed", action="store_true", help="work around the two gaps (see above)")
    sub.add_parser("status")
    d = sub.add_parser("down")
    d.add_argument("--port", type=int, default=4010)
    a = p.parse_args()
    if a.cmd == "install":
        install(a.prefix, a.version)
    elif a.cmd == "up":
        up(a.spec, a.prism, a.port, a.fixed)
    elif a.cmd == "status":
        status()
    else:
        down(a.port)


if __name__ == "__main__":
    main()

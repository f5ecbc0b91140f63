#!/usr/bin/env python3
"""Run real, third-party GeoReport v2 (Open311) servers beside the bot, and record how they answer.

Nothing here downloads code except from PyPI and npm: give it the source directory of a server
you fetched yourself (a git checkout or `git archive` of the commit named in
docs/open311-servers.md). Every server gets its own state directory (a virtualenv or a copy
with node_modules, its database or log, a pid file) under the system's temporary directory
(`$OPEN311_PEERS_HOME` overrides), and a THROWAWAY API key: these servers are for tests only.

    open311_peers.py up issue-reporting SRC --port 8411 [--moderation unmoderated]
    open311_peers.py up open311-api SRC --port 8421
    open311_peers.py close issue-reporting --port 8411 ID [--notes "..."] [--touch]
    open311_peers.py moderate issue-reporting --port 8412 ID      # make a hidden request public
    open311_peers.py status | stop KIND --port P
    open311_peers.py record KIND --port P --out tests/fixtures/open311/real/<name>

Kinds:
  issue-reporting  6aika/issue-reporting (Django REST framework; SQLite here). Needs Debian's
                   libgdal32 and libgeos-c1v5 (django.contrib.gis is always installed).
  open311-api      codefornl/open311-api (Node.js, Express, Sequelize 3; MariaDB/MySQL on
                   127.0.0.1:3306 as root without a password, one database per port).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes.util
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

THROWAWAY_KEYS = {  # not secrets: these servers run on loopback for tests only
    "issue-reporting": "throwaway-ir-key-not-secret",
    "open311-api": "throwaway-o311api-key-not-secret",
}
API_ROOT = {"issue-reporting": "/api/georeport/v2/", "open311-api": "/api/v2/"}
# issue-reporting: codes we create. open311-api: the seeded Eindhoven services (integer ids).
SERVICES = {
    "issue-reporting": [
        ("pothole", "Pothole", "coords_or_address"),
        ("graffiti", "Graffiti", "coords"),
        ("noise", "Noise", "none"),
    ],
}


def home() -> Path:
    return Path(
        os.environ.get("OPEN311_PEERS_HOME") or Path(tempfile.gettempdir()) / "open311-peers"
    )


def state_dir(kind: str, port: int) -> Path:
    return home() / f"{kind}-{port}"


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def wait_http(port: int, path: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
            conn.request("GET", path)
            status = conn.getresponse().status
            if status < 500:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"nothing answers on port {port} ({path}); see the server log")
        time.sleep(0.5)


def start_detached(cmd: list[str], state: Path, env: dict, cwd: Path) -> None:
    pidfile = state / "server.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text()), 0)
            raise SystemExit(f"already running (pid {pidfile.read_text().strip()}); stop it first")
        except ProcessLookupError:
            pidfile.unlink()
    with open(state / "server.log", "ab") as log:  # the child keeps its own copy
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    pidfile.write_text(str(proc.pid))
    print(f"started pid {proc.pid}; log {state / 'server.log'}", file=sys.stderr)


# ---------------------------------------------------------------- issue-reporting (Django/DRF)

IR_SEED = """
import os
from issues.models import Application, Jurisdiction, Service
Application.objects.get_or_create(identifier="default", defaults={"name": "Default", "key": ""})
Application.objects.update_or_create(identifier="intake311-peer",
    defaults={"name": "intake311 peer (throwaway key)", "key": os.environ["PEER_API_KEY"]})
j, _ = Jurisdiction.objects.get_or_create(identifier="peer.example", defaults={"name": "Peer City"})
for code, name, req in %r:
    if not Service.objects.filter(service_code=code).exists():
        s = Service(service_code=code, location_req=req)
        s.set_current_language("en")
        s.service_name = name
        s.description = name + " (test service)"
        s.save()
        s.jurisdictions.add(j)
"""


def ir_env(state: Path, moderation: str | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{state / 'db.sqlite3'}",
        SECRET_KEY="throwaway-not-secret",
        MEDIA_ROOT=str(state / "media"),
        STATIC_ROOT=str(state / "static"),
        PYTHONDONTWRITEBYTECODE="1",
        PEER_API_KEY=THROWAWAY_KEYS["issue-reporting"],
    )
    env.pop("DEBUG", None)
    saved = state / "moderation"
    if moderation:
        saved.write_text(moderation)
    if saved.exists():
        env["ISSUES_DEFAULT_MODERATION_STATUS"] = saved.read_text().strip()
    return env


def ir_manage(state: Path, src: Path, code: str, moderation: str | None = None) -> str:
    out = subprocess.run(
        [str(state / "venv/bin/python"), "manage.py", "shell", "-c", code],
        cwd=src,
        env=ir_env(state, moderation),
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def up_issue_reporting(src: Path, port: int, moderation: str, reset: bool) -> None:
    missing = [lib for lib in ("gdal", "geos_c") if not ctypes.util.find_library(lib)]
    if missing:
        raise SystemExit(
            f"missing shared libraries {missing}: apt-get install -y libgdal32 libgeos-c1v5"
        )
    state = state_dir("issue-reporting", port)
    state.mkdir(parents=True, exist_ok=True)
    (state / "src").write_text(str(src.resolve()))
    if reset and (state / "db.sqlite3").exists():
        (state / "db.sqlite3").unlink()
    py = state / "venv/bin/python"
    if not py.exists():
        run([sys.executable, "-m", "venv", str(state / "venv")])
        run(
            [str(py), "-m", "pip", "install", "-q", "-r", str(src / "requirements.txt"), "gunicorn"]
        )
    env = ir_env(state, moderation)
    run([str(py), "manage.py", "migrate", "-v0"], cwd=src, env=env)
    ir_manage(state, src, IR_SEED % (SERVICES["issue-reporting"],), moderation)
    start_detached(
        [str(state / "venv/bin/gunicorn"), "-b", f"127.0.0.1:{port}", "-w", "2", "cfh.wsgi"],
        state,
        env,
        src,
    )
    wait_http(port, API_ROOT["issue-reporting"] + "services.json")
    describe("issue-reporting", port)


# ---------------------------------------------------------------- open311-api (Node/Express)

# The project's migrations and seeders, run in file order with its own Sequelize (its
# sequelize-cli 2 depends on gulp 3, which no longer starts on Node.js 12 or newer).
O311_MIGRATE = r"""
var path = require('path'), fs = require('fs');
var app = process.argv[2], dirs = process.argv.slice(3);
var models = require(path.join(app, 'models'));
var qi = models.sequelize.getQueryInterface(), S = models.Sequelize, steps = [];
dirs.forEach(function (d) {
  fs.readdirSync(path.join(app, d)).filter(function (f) { return /\.js$/.test(f); }).sort()
    .forEach(function (f) { steps.push(path.join(app, d, f)); });
});
steps.reduce(function (p, f) {
  return p.then(function () { return require(f).up(qi, S); });
}, Promise.resolve()).then(function () { process.exit(0); },
  function (e) { console.error(e); process.exit(1); });
"""


def mysql(db: str | None, sql: str) -> str:
    cmd = ["mysql", "-uroot", "-h127.0.0.1", "-N", "-B"] + ([db] if db else []) + ["-e", sql]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def up_open311_api(src: Path, port: int, reset: bool) -> None:
    state = state_dir("open311-api", port)
    app = state / "app"
    db = f"open311_peer_{port}"
    state.mkdir(parents=True, exist_ok=True)
    (state / "src").write_text(str(src.resolve()))
    if not (app / "node_modules").exists():
        shutil.copytree(
            src, app, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git", "node_modules")
        )
        # --ignore-scripts: sqlite3@3.1.8 (unused with MySQL) cannot build on Node.js 20.
        run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=app)
    config = json.loads((app / "config.default.json").read_text())["development"]
    config.update(database=db, logging=False, remote_port=port)
    config["operator-api"] = {"host": "127.0.0.1", "port": 9}  # nothing there: the default path
    config["smtp"]["port"] = 9  # mail is fire-and-forget: a refused connection is only logged
    (app / "config.json").write_text(
        json.dumps({"development": config, "production": config}, indent=2)
    )
    (state / "migrate.js").write_text(O311_MIGRATE)
    if reset:
        mysql(None, f"DROP DATABASE IF EXISTS {db}")
    fresh = not mysql(None, f"SHOW DATABASES LIKE '{db}'").strip()
    env = dict(os.environ, NODE_ENV="development", PORT=str(port))
    if fresh:
        mysql(None, f"CREATE DATABASE {db} CHARACTER SET utf8mb4")
        run(["node", str(state / "migrate.js"), str(app), "migrations", "seeders"], env=env)
        # The seeders' two applications carry API keys published in the repository: replace them.
        mysql(
            db,
            "DELETE FROM applications; INSERT INTO applications (id, name, url, api_key) "
            f"VALUES (3, 'intake311-peer (throwaway key)', 'http://localhost', "
            f"'{THROWAWAY_KEYS['open311-api']}')",
        )
    start_detached(["node", "index.js"], state, env, app)
    wait_http(port, API_ROOT["open311-api"] + "services.json")
    describe("open311-api", port)


# ---------------------------------------------------------------- closing, moderating, status


def close_request(kind: str, port: int, ident: str, notes: str, touch: bool) -> None:
    state = state_dir(kind, port)
    if kind == "issue-reporting":
        src = Path((state / "src").read_text())
        # What a staff member does in the Django admin (/admin/issues/issue/): status and notes.
        # The model has no auto_now: updated_datetime only moves if someone edits it too.
        code = (
            "from django.utils.timezone import now; from issues.models import Issue; "
            f"i = Issue.objects.get(identifier={ident!r}); i.status = 'closed'; "
            f"i.status_notes = {notes!r}; "
            + ("i.updated_datetime = now(); " if touch else "")
            + "i.save(); print(i.identifier, i.status, i.updated_datetime.isoformat())"
        )
        print(ir_manage(state, src, code).strip())
    else:
        # The uReport-style `tickets` table has no status notes; Sequelize's own updates
        # set lastModified, so a staff tool would too.
        n = int(ident)
        mysql(
            f"open311_peer_{port}",
            "UPDATE tickets SET status='closed', closedDate=UTC_TIMESTAMP(), "
            f"lastModified=UTC_TIMESTAMP() WHERE id={n}",
        )
        print(
            mysql(
                f"open311_peer_{port}", f"SELECT id, status, lastModified FROM tickets WHERE id={n}"
            ).strip()
        )


def moderate(port: int, ident: str, value: str) -> None:
    state = state_dir("issue-reporting", port)
    src = Path((state / "src").read_text())
    code = (
        "from issues.models import Issue; "
        f"print(Issue.objects.filter(identifier={ident!r}).update(moderation={value!r}))"
    )
    print(ir_manage(state, src, code).strip(), "request(s) set to", value)


def describe(kind: str, port: int) -> None:
    state = state_dir(kind, port)
    extra = ""
    if kind == "issue-reporting" and (state / "moderation").exists():
        extra = f" moderation={(state / 'moderation').read_text().strip()}"
    codes = [c for c, _, _ in SERVICES.get(kind, [])] or "see services.json (integers)"
    print(
        f"{kind}: http://127.0.0.1:{port}{API_ROOT[kind]}  api_key={THROWAWAY_KEYS[kind]} "
        f"services={codes}{extra}\n  state: {state}"
    )


def status() -> None:
    for state in sorted(home().glob("*-*")):
        pidfile = state / "server.pid"
        alive = "stopped"
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), 0)
                alive = f"running pid {pidfile.read_text().strip()}"
            except ProcessLookupError:
                pass
        print(f"{state.name}: {alive}")


def stop(kind: str, port: int) -> None:
    pidfile = state_dir(kind, port) / "server.pid"
    if not pidfile.exists():
        print("not running")
        return
    pid = int(pidfile.read_text())
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)  # its own session: the server and its workers only
    pidfile.unlink()
    print(f"stopped {pid}")


# ---------------------------------------------------------------- recording answers

KEEP_OUT = {"date", "connection", "keep-alive", "etag", "server"}


class Recorder:
    """Sends requests as a GeoReport v2 client would and writes each exchange to a JSON file."""

    def __init__(self, port: int, root: str, out: Path) -> None:
        self.port, self.root, self.out, self.n = port, root, out, 0
        out.mkdir(parents=True, exist_ok=True)

    def __call__(
        self,
        name: str,
        method: str,
        path: str,
        query=None,
        form=None,
        accept=None,
        body=None,
        content_type=None,
        save=True,
    ) -> tuple[int, dict, str]:
        url = self.root + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Accept": accept} if accept else {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = body.encode()
            headers["Content-Type"] = content_type
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, url, body=data, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        # DRF's browsable-API pages carry the CSRF token too: random, masked all the same.
        text = re.sub(r'(csrfmiddlewaretoken" value="|csrfToken: ")[A-Za-z0-9]+', r"\1MASKED", text)
        kept = {k: v for k, v in resp.getheaders() if k.lower() not in KEEP_OUT}
        if "Set-Cookie" in kept:  # Django's CSRF cookie: a random value, masked all the same
            name, _, rest = kept["Set-Cookie"].partition("=")
            kept["Set-Cookie"] = name + "=MASKED;" + rest.partition(";")[2]
        if save:
            self.n += 1
            record = {
                "request": {
                    "method": method,
                    "path": url,
                    "headers": headers,
                    "body": data.decode() if data else None,
                },
                "status": resp.status,
                "reason": resp.reason,
                "headers": kept,
                "body": text,
            }
            fname = self.out / f"{self.n:02d}-{name}.json"
            fname.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
            print(f"{fname.name}: {resp.status} {kept.get('Content-Type', '')}", file=sys.stderr)
        return resp.status, kept, text


def first_id(text: str) -> str:
    """service_request_id of the first record of a JSON list answer."""
    data = json.loads(text)
    return str(data[0]["service_request_id"])


def record(kind: str, port: int, out: Path, close_cmd) -> None:
    key = THROWAWAY_KEYS[kind]
    r = Recorder(port, API_ROOT[kind], out)
    code, code2, bad = (
        ("pothole", "graffiti", "nosuchservice") if kind == "issue-reporting" else ("2", "5", "999")
    )
    where = (
        {"lat": "60.1699", "long": "24.9384"}
        if kind == "issue-reporting"
        else {"lat": "51.4416", "long": "5.4697"}
    )
    who = {"email": "probe@example.org", "first_name": "Pat", "last_name": "Probe"}
    stamp = time.strftime("%Y%m%dT%H%M%S")

    r("discovery-json", "GET", "discovery.json")
    r("discovery-xml", "GET", "discovery.xml")
    r("services-json", "GET", "services.json")
    r("services-xml", "GET", "services.xml")
    r("service-definition-json", "GET", f"services/{code}.json")
    r("service-definition-unknown-json", "GET", f"services/{bad}.json")
    _, _, t = r(
        "post-valid-json",
        "POST",
        "requests.json",
        form={
            "api_key": key,
            "service_code": code,
            "description": f"probe {stamp} latlong",
            **where,
            "address_string": "Probe street 1",
            **who,
        },
    )
    id_a = first_id(t)
    _, _, t = r(
        "post-valid-xml",
        "POST",
        "requests.xml",
        form={"api_key": key, "service_code": code, "description": f"probe {stamp} xml", **where},
    )
    r(
        "post-missing-service-code",
        "POST",
        "requests.json",
        form={"api_key": key, "description": "x", **where},
    )
    r(
        "post-missing-description",
        "POST",
        "requests.json",
        form={"api_key": key, "service_code": code, **where},
    )
    r(
        "post-invalid-api-key",
        "POST",
        "requests.json",
        form={"api_key": "wrong-key", "service_code": code, "description": "x", **where},
    )
    r(
        "post-invalid-api-key-xml",
        "POST",
        "requests.xml",
        form={"api_key": "wrong-key", "service_code": code, "description": "x", **where},
    )
    r(
        "post-no-api-key",
        "POST",
        "requests.json",
        form={"service_code": code, "description": "x", **where},
    )
    r(
        "post-unknown-service",
        "POST",
        "requests.json",
        form={"api_key": key, "service_code": bad, "description": "x", **where},
    )
    _, _, t = r(
        "post-address-string-only",
        "POST",
        "requests.json",
        form={
            "api_key": key,
            "service_code": code,
            "description": f"probe {stamp} address_string only",
            "address_string": "Probe street 2",
        },
    )
    id_addr = first_id(t) if t.lstrip().startswith("[") and "service_request_id" in t else None
    r(
        "post-address-field-only",
        "POST",
        "requests.json",
        form={
            "api_key": key,
            "service_code": code,
            "description": f"probe {stamp} address only",
            "address": "Probe street 3",
        },
    )
    r(
        "post-coords-service-address-only",
        "POST",
        "requests.json",
        form={
            "api_key": key,
            "service_code": code2,
            "description": f"probe {stamp} no coords",
            "address_string": "Probe street 4",
        },
    )
    r(
        "post-json-body",
        "POST",
        "requests.json",
        body=json.dumps(
            {
                "api_key": key,
                "service_code": code,
                "description": f"probe {stamp} json body",
                **where,
            }
        ),
        content_type="application/json",
    )
    r("get-one-json", "GET", f"requests/{id_a}.json")
    r("get-one-xml", "GET", f"requests/{id_a}.xml")
    if id_addr:
        r("get-address-string-only", "GET", f"requests/{id_addr}.json")
    r("get-unknown-json", "GET", "requests/unknown0000.json")
    r("get-unknown-numeric-json", "GET", "requests/999999.json")
    r("get-unknown-xml", "GET", "requests/999999.xml")
    ids = [id_a, first_id(r("ids-helper", "GET", "requests.json", save=False)[2])]
    r("get-by-ids-json", "GET", "requests.json", query={"service_request_id": ",".join(ids)})
    r("get-by-ids-xml", "GET", "requests.xml", query={"service_request_id": ",".join(ids)})
    r("get-list-json", "GET", "requests.json")
    r("get-page-1-json", "GET", "requests.json", query={"page": "1", "page_size": "2"})
    r("get-page-past-last-json", "GET", "requests.json", query={"page": "999", "page_size": "2"})
    r("get-page-past-last-xml", "GET", "requests.xml", query={"page": "999", "page_size": "2"})
    r("get-per-page-json", "GET", "requests.json", query={"page": "2", "per_page": "1"})
    accepts = [
        ("json", "application/json"),
        ("text-xml", "text/xml"),
        ("application-xml", "application/xml"),
        ("client-xml", "application/xml, text/xml;q=0.9"),
        ("any", "*/*"),
        ("html", "text/html"),
    ]
    for label, accept in accepts:
        r(f"accept-{label}-on-json-suffix", "GET", f"requests/{id_a}.json", accept=accept)
    for label, accept in accepts:
        r(f"accept-{label}-on-xml-suffix", "GET", f"requests/{id_a}.xml", accept=accept)
    for label, accept in accepts:
        r(f"accept-{label}-no-suffix", "GET", f"requests/{id_a}", accept=accept)
    if kind == "issue-reporting":  # Django: no suffix redirects to a trailing slash
        for label, accept in accepts:
            r(f"accept-{label}-trailing-slash", "GET", f"requests/{id_a}/", accept=accept)
        r("format-query-json", "GET", f"requests/{id_a}/", query={"format": "json"})
        r("format-query-xml", "GET", f"requests/{id_a}/", query={"format": "xml"})
    r("api-root", "GET", "", accept="application/json")
    r(
        "get-updated-after-json",
        "GET",
        "requests.json",
        query={"updated_after": "2000-01-01T00:00:00Z"},
    )
    r(
        "get-start-date-json",
        "GET",
        "requests.json",
        query={"service_code": code, "start_date": "2000-01-01T00:00:00Z"},
    )
    r(
        "get-start-date-future-json",
        "GET",
        "requests.json",
        query={"start_date": "2100-01-01T00:00:00Z"},
    )
    r("get-end-date-past-json", "GET", "requests.json", query={"end_date": "2000-01-01T00:00:00Z"})
    r("service-definition-unknown-xml", "GET", f"services/{bad}.xml")
    r(
        "post-unknown-service-xml",
        "POST",
        "requests.xml",
        form={"api_key": key, "service_code": bad, "description": "x", **where},
    )
    close_cmd(id_a)
    r("get-one-after-close-json", "GET", f"requests/{id_a}.json")
    r("get-one-after-close-xml", "GET", f"requests/{id_a}.xml")
    r("get-closed-status-json", "GET", "requests.json", query={"status": "closed"})
    print(f"recorded {r.n} exchanges into {out}; id of the closed request: {id_a}", file=sys.stderr)


def record_moderation(port: int, out: Path) -> None:
    """On an issue-reporting started with --moderation unmoderated: what hiding looks like."""
    key = THROWAWAY_KEYS["issue-reporting"]
    r = Recorder(port, API_ROOT["issue-reporting"], out)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    _, _, t = r(
        "unmoderated-post",
        "POST",
        "requests.json",
        form={
            "api_key": key,
            "service_code": "pothole",
            "description": f"probe {stamp} moderation",
            "lat": "60.1699",
            "long": "24.9384",
        },
    )
    ident = first_id(t)
    r("unmoderated-get-one", "GET", f"requests/{ident}.json")
    r("unmoderated-get-by-id", "GET", "requests.json", query={"service_request_id": ident})
    r(
        "unmoderated-marker-search",
        "GET",
        "requests.json",
        query={"service_code": "pothole", "start_date": "2000-01-01T00:00:00Z"},
    )
    moderate(port, ident, "public")
    r("moderated-get-one", "GET", f"requests/{ident}.json")
    r("moderated-get-by-id", "GET", "requests.json", query={"service_request_id": ident})


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    kinds = list(API_ROOT)
    u = sub.add_parser("up", help="install (once) and start a server")
    u.add_argument("kind", choices=kinds)
    u.add_argument("src", type=Path, help="the server's fetched source directory")
    u.add_argument("--port", type=int, required=True)
    u.add_argument(
        "--moderation",
        choices=["public", "unmoderated"],
        default="public",
        help="issue-reporting: ISSUES_DEFAULT_MODERATION_STATUS",
    )
    u.add_argument("--reset", action="store_true", help="start from an empty database")
    c = sub.add_parser("close", help="close a request as the city's staff would")
    c.add_argument("kind", choices=kinds)
    c.add_argument("id")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--notes", default="Fixed by the road crew.")
    c.add_argument(
        "--touch",
        action="store_true",
        help="issue-reporting: also set updated_datetime (the admin does not)",
    )
    m = sub.add_parser("moderate", help="issue-reporting: set a request's moderation")
    m.add_argument("kind", choices=["issue-reporting"])
    m.add_argument("id")
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--to", default="public", choices=["public", "hidden", "unmoderated"])
    s = sub.add_parser("stop")
    s.add_argument("kind", choices=kinds)
    s.add_argument("--port", type=int, required=True)
    sub.add_parser("status")
    rec = sub.add_parser("record", help="probe a running server and write fixtures")
    rec.add_argument("kind", choices=kinds)
    rec.add_argument("--port", type=int, required=True)
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument(
        "--moderation",
        action="store_true",
        help="issue-reporting started with --moderation unmoderated: record hiding",
    )
    a = p.parse_args()
    if a.cmd == "up":
        if a.kind == "issue-reporting":
            up_issue_reporting(a.src, a.port, a.moderation, a.reset)
        else:
            up_open311_api(a.src, a.port, a.reset)
    elif a.cmd == "close":
        close_request(a.kind, a.port, a.id, a.notes, a.touch)
    elif a.cmd == "moderate":
        moderate(a.port, a.id, a.to)
    elif a.cmd == "stop":
        stop(a.kind, a.port)
    elif a.cmd == "status":
        status()
    elif a.moderation:
        record_moderation(a.port, a.out)
    else:
        record(
            a.kind,
            a.port,
            a.out,
            lambda i: close_request(a.kind, a.port, i, "Fixed by the road crew.", False),
        )


if __name__ == "__main__":
    main()

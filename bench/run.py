"""`make bench`: every benchmark script in a fixed order, each in its own process, assembled
into one markdown table with the machine, the date, the load and the exact commands.

    .venv/bin/python bench/run.py [--quick] [--profile] [--only intake,reply]

Each script follows the bench contract (bench/README.md): `--json PATH` writes its section's
rows. Scripts not (yet) in the tree are skipped with a note. The table is printed and written
to bench/results/<date>.md (not committed). Figures, not pass/fail: exits 0 unless a script
could not measure at all.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stack import RESULTS, ROOT, loadavg, machine, row  # noqa: E402

# (script, its arguments under --quick, whether it takes --profile)
ORDER = [
    ("intake", ["--quick"], True),
    ("reply", ["--quick"], True),
    ("filing", ["--quick"], False),
    ("status_cycle", ["--quick"], False),
    ("pacing", ["--quick"], False),
    ("engine_steps", ["--rounds", "5"], False),
    ("memory", ["--quick"], False),
]
TIMEOUT = 600  # seconds for any one script


def help_of(script: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=ROOT
    )
    return done.stdout


def engine_rows(stdout: str) -> list[dict]:
    """engine_steps.py's figures from its printed lines (before it had --json)."""
    rate = re.search(r"([\d,]+) steps/s", stdout)
    if rate is None:
        return []
    value = float(rate.group(1).replace(",", ""))
    rows = [
        row(
            "engine steps/s (one core)",
            f"{value:,.0f}",
            goal="> 20,000",
            met=value > 20000,
            note="parsed from engine_steps.py's output (it has no --json)",
        )
    ]
    step = re.search(r"p50 ([\d.]+) ?(\w+).*?p99 ([\d.]+) ?(\w+)", stdout)
    if step:
        rows.append(row("engine step p50 / p99", f"{step[1]} {step[2]} / {step[3]} {step[4]}"))
    return rows


def run_script(name: str, quick_args: list[str], profiles: bool, args, tmp: Path) -> dict:
    """One script's section: its JSON, or a row saying why there is none."""
    script = ROOT / "bench" / f"{name}.py"
    if not script.exists():
        return {"section": name, "rows": [row(name, "not run", note="script not in the tree")]}
    flags = help_of(script)
    argv = [sys.executable, str(script)]
    if args.quick:
        argv += [a for a in quick_args if a != "--quick" or "--quick" in flags]
    if args.profile and profiles:
        argv.append("--profile")
    out = tmp / f"{name}.json"
    takes_json = "--json" in flags
    if takes_json:
        argv += ["--json", str(out)]
    shown = [a for a in argv[2:] if a != str(out)]
    command = shlex.join([".venv/bin/python", f"bench/{name}.py", *shown]).replace(" --json", "")
    print(f"\n=== {command}", flush=True)
    started = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as child:
        # SIGTERM: the script stops its stack's processes on the way out (bench/stack.py).
        timer = threading.Timer(TIMEOUT, child.terminate)
        timer.start()
        assert child.stdout is not None
        for line in child.stdout:  # shown as it comes: a run is long
            print(line, end="", flush=True)
            lines.append(line)
        code = child.wait()
        timer.cancel()
    spent = time.monotonic() - started
    stdout = "".join(lines)
    if takes_json and out.exists():
        section = json.loads(out.read_text())
    elif name == "engine_steps" and engine_rows(stdout):
        section = {"section": "Engine", "rows": engine_rows(stdout)}
    else:
        why = f"killed after {TIMEOUT} s" if spent >= TIMEOUT else f"exit {code}"
        tail = stdout.strip().splitlines()[-1:] or [""]
        section = {
            "section": name,
            "rows": [row(name, "not measured", note=f"{why}: {tail[0][:200]}")],
        }
    section.setdefault("commands", [])
    section["commands"] = [command, *section["commands"]]
    section["seconds"] = spent
    return section


def cell(value) -> str:
    if value is None:
        return ""
    if str(value) == "nan":
        return "n/a"
    if value is True:
        return "yes"
    if value is False:
        return "**no**"
    return str(value).replace("|", "\\|")


def table(sections: list[dict]) -> str:
    lines = [
        "| section | figure | value | baseline | ratio | goal | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for section in sections:
        for r in section["rows"]:
            lines.append(
                "| "
                + " | ".join(
                    cell(x)
                    for x in (
                        section["section"],
                        r["figure"],
                        r["value"],
                        r.get("baseline"),
                        r.get("ratio"),
                        r.get("goal"),
                        r.get("met"),
                    )
                )
                + " |"
            )
    return "\n".join(lines)


def notes(sections: list[dict]) -> str:
    out = []
    for section in sections:
        items = [f"{r['figure']}: {r['note']}" for r in section["rows"] if r.get("note")]
        load = section.get("load")
        head = f"**{section['section']}**" + (f" (load {load})" if load else "")
        head += f", {section['seconds']:.0f} s" if "seconds" in section else ""
        out.append(head)
        out += [f"- {item}" for item in items]
        out += [f"- `{c}`" for c in section.get("commands", [])]
        out.append("")
    return "\n".join(out)


def commit() -> str:
    done = subprocess.run(
        ["git", "log", "-1", "--format=%h %s"], capture_output=True, text=True, cwd=ROOT
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every script's short run")
    parser.add_argument("--profile", action="store_true", help="py-spy flame graphs too")
    parser.add_argument("--only", default="", help="e.g. intake,reply")
    args = parser.parse_args(argv)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    started = datetime.now(UTC)
    measured_commit = commit()  # now: the tree may change while the suite runs
    before = loadavg()
    host = machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    sections = []
    with tempfile.TemporaryDirectory(prefix="intake311-bench-") as tmp:
        for name, quick_args, profiles in ORDER:
            if only and name not in only:
                continue
            sections.append(run_script(name, quick_args, profiles, args, Path(tmp)))
    after = loadavg()
    minutes = (datetime.now(UTC) - started).total_seconds() / 60
    invocation = "bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    header = "\n".join(
        [
            f"# intake311 benchmarks, {started:%Y-%m-%d %H:%M} UTC",
            "",
            f"- commit: {measured_commit}",
            f"- machine: {host['cpu']}, {host['cores']} cores, {host['ram']} RAM; Python "
            f"{host['python']}, PostgreSQL {host['postgresql']}, Redis {host['redis']}",
            f"- load average (1/5/15 min) before: {before}; after: {after}",
            f"- run: `{invocation.strip()}`, {minutes:.1f} minutes",
            "",
        ]
    )
    text = f"{header}\n{table(sections)}\n\n## Notes and commands\n\n{notes(sections)}"
    path = RESULTS / f"{started:%Y-%m-%d-%H%M}.md"
    path.write_text(text)
    print("\n" + text)
    print(f"written to {path.relative_to(ROOT)}")
    measured = [s for s in sections if not all(r["value"] == "not measured" for r in s["rows"])]
    return 0 if measured or not sections else 1


if __name__ == "__main__":
    sys.exit(main())

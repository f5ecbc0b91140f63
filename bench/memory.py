"""Memory: the resident set size of each of the Procfile's processes after a load, beside a
bare Flask hello-world's gunicorn worker under the same command.

    .venv/bin/python bench/memory.py [--webhooks 400] [--residents 40] [--quick] [--json PATH]

The load: `--residents` new residents texting "hi" at once, their replies waited for (at most
`--wait` s; bench/reply.py's), then `--webhooks` signed webhooks at 100/s to the web app and to
hello-world (bench/intake.py's). Then VmRSS from
/proc/<pid>/status for each process and each of its children (gunicorn's workers, an rq
work-horse if one is running), listed separately.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import openloop  # noqa: E402
from bench.intake import raw_requests, signed_forms  # noqa: E402
from bench.reply import measure  # noqa: E402
from bench.stack import BenchStack, gunicorn_app, loadavg, process_rss, row, write_json  # noqa: E402


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=400)
    parser.add_argument("--residents", type=int, default=40)
    parser.add_argument("--wait", type=float, default=45, help="seconds for the replies at most")
    parser.add_argument("--quick", action="store_true", help="100 webhooks, 10 residents")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.quick:
        args.webhooks, args.residents = 100, 10

    load_before = loadavg()
    workdir = Path(tempfile.mkdtemp(prefix="intake311-bench-memory-"))
    stack = BenchStack(workdir / "logs")
    hello = None
    try:
        stack.start()
        hello, hello_port = gunicorn_app("hello", "bench.baselines.hello:app", workdir, stack.env)
        phones = [f"+1917{i:07d}" for i in range(args.residents)]
        got = measure(stack.sent, stack.port, phones, 1e6, "a11ce", wait=args.wait)
        for port in (stack.port, hello_port):
            forms = signed_forms(args.webhooks, 500, 77 + port)
            openloop.run("127.0.0.1", port, raw_requests(forms, port), 100)
        sizes = {kind: process_rss(pid) for kind, pid in stack.pids().items()}
        assert hello.popen is not None
        hello_sizes = process_rss(hello.popen.pid)
    finally:
        if hello is not None:
            hello.stop()
        stack.close()
    hello_workers = [kb for _, _, kb in hello_sizes[1:]] or [hello_sizes[0][2]]
    hello_worker = max(hello_workers)
    rows = [
        row(
            "hello-world gunicorn: master / worker (MB)",
            f"{mb(hello_sizes[0][2])} / {mb(hello_worker)}",
            note="bench.baselines.hello:app under the Procfile's web command",
        )
    ]
    for kind, procs in sizes.items():
        (cmd, _, top), rest = procs[0], procs[1:]
        parts = [f"{kind} {mb(top)}"] + [f"child {mb(kb)}" for _, _, kb in rest]
        total = top + sum(kb for _, _, kb in rest)
        if kind == "web" and rest:
            worst = max(kb for _, _, kb in rest)
            rows.append(
                row(
                    "web: each gunicorn worker (MB)",
                    ", ".join(mb(kb) for _, _, kb in rest),
                    mb(hello_worker),
                    f"{worst / hello_worker:.2f}x",
                    note=f"master {mb(top)}; total {mb(total)}",
                )
            )
        else:
            rows.append(
                row(
                    f"{kind} (MB)",
                    " + ".join(parts) if rest else mb(top),
                    note=f"total {mb(total)}; {cmd[:80]}",
                )
            )
    rows.append(
        row(
            "load before measuring",
            f"{args.residents} 'hi' ({got['answered']} answered within {args.wait:g} s), "
            f"then {args.webhooks} webhooks",
        )
    )
    commands = [*stack.commands, "RSS: VmRSS of /proc/<pid>/status, each process and child"]
    write_json(args.json, "Memory", rows, commands, f"{load_before} / {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Local processes for the tests: a redis-server of a run's own, child processes in their own
process groups, free ports."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class StackError(RuntimeError):
    """The stack could not be brought up (a process died, a port never answered)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"({path.name}: no log)"
    return f"--- {path.name} (last {lines} lines) ---\n" + "\n".join(text[-lines:])


def wait_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"process exited with {proc.returncode} before port {port} opened")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise StackError(f"nothing answered on port {port} within {timeout} s")


class Proc:
    """One child process in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict, logdir: Path):
        self.name, self.argv, self.env = name, argv, env
        self.log = logdir / f"{name}.log"
        self.popen: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> Proc:
        with open(self.log, "ab") as out:
            out.write(
                f"\n=== start {self.starts + 1} at {time.time():.3f}: "
                f"{' '.join(self.argv)}\n".encode()
            )
            out.flush()
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.starts += 1
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        """SIGKILL the whole process group (the process and any child it forked)."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 8.0) -> None:
        """SIGTERM the group, then SIGKILL whatever is left."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        self.kill9()


class RedisServer:
    """A redis-server of a test run's own on a free port: no snapshots, no append-only file."""

    def __init__(self, logdir: Path, attempts: int = 3):
        exe = shutil.which("redis-server")
        if exe is None:
            raise StackError("redis-server is not installed")
        self.dir = logdir / "redis"
        self.dir.mkdir(exist_ok=True)
        for attempt in range(attempts):
            # Another process may take the free port before redis-server binds it: try another.
            self.port = free_port()
            argv = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            argv += ["--appendonly", "no", "--dir", str(self.dir)]
            self.proc = Proc("redis", argv, dict(os.environ), logdir).start()
            try:
                wait_port(self.port, 10, self.proc.popen)
                return
            except StackError:
                self.proc.stop()
                if attempt == attempts - 1:
                    raise

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def flushall(self) -> None:
        import redis

        conn = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            conn.flushall()
        finally:
            conn.close()

    def stop(self) -> None:
        self.proc.stop()


@contextlib.contextmanager
def s3_server(port: int = 0):
    """moto's S3-compatible server on loopback (an S3 stand-in spoken to over real HTTP), for
    as long as the block runs; yields the server and its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        host, bound = server.get_host_and_port()
        yield server, f"http://{host}:{bound}"
    finally:
        server.stop()

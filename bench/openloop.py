"""An open-loop HTTP/1.1 load generator: requests sent on a fixed schedule, latency measured
from each request's scheduled send time (so a slow server cannot slow the load down and hide
its own queueing: no coordinated omission). Keep-alive connections are reused when the server
keeps them open; a request finding none idle opens a new one."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)  # seconds, from the scheduled time
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    late_starts: int = 0  # sends that began more than 10 ms after their scheduled time
    start: float = 0.0  # time.monotonic() of request 0's scheduled send; request i's is +i/rate

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, close = 0, lines[0].startswith("HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = value.strip().lower() == "close"
    if length:
        await reader.readexactly(length)
    return status, close


async def _run(host: str, port: int, requests: list[bytes], rate: float, timeout: float) -> Outcome:
    outcome = Outcome()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    start = outcome.start = time.monotonic() + 0.2

    async def one(i: int, raw: bytes) -> None:
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
        if time.monotonic() - scheduled > 0.01:
            outcome.late_starts += 1
        conn = idle.pop() if idle else None
        try:
            if conn is None:
                conn = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            reader, writer = conn
            writer.write(raw)
            await writer.drain()
            status, close = await asyncio.wait_for(_read_response(reader), timeout)
            outcome.latencies.append(time.monotonic() - scheduled)
            outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
            if close:
                writer.close()
            else:
                idle.append(conn)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            outcome.errors += 1
            if conn is not None:
                conn[1].close()

    await asyncio.gather(*(one(i, raw) for i, raw in enumerate(requests)))
    for _, writer in idle:
        writer.close()
    return outcome


def run(host: str, port: int, requests: list[bytes], rate: float, timeout: float = 10) -> Outcome:
    """Send each raw request at `rate` per second, on schedule; every one's outcome."""
    return asyncio.run(_run(host, port, requests, rate, timeout))

"""A lean reader of the dashboard's SSE stream: asyncio streams, HTTP/1.1 chunked decoding and a regex over bytes.

httpx and a full SSE parser cost more CPU per event than the dashboard spends relaying it; on a 2-core machine
a heavy reader would measure itself. This one only finds the seqs (`data-seq="N"`) and the `end` event.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

SEQ = re.compile(rb'data-seq="(\d+)"')
END = re.compile(rb"^event: end$", re.MULTILINE)


class StreamError(Exception):
    """The stream could not be opened, or did not speak HTTP/1.1 chunked SSE."""


async def open_stream(host: str, port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """GET `path` as a browser's EventSource would; return once the response head is read."""
    reader, writer = await asyncio.open_connection(host, port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
    )
    writer.write(request.encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" ":
        writer.close()
        raise StreamError(f"GET {path}: {status.decode(errors='replace')}")
    if b"transfer-encoding: chunked" not in head.lower():
        writer.close()
        raise StreamError(f"GET {path}: not a chunked response")
    return reader, writer


async def blocks(reader: asyncio.StreamReader) -> AsyncIterator[tuple[bytes, float]]:
    """The body as blocks of whole lines, each with the wall time its last chunk was read."""
    pending = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            return
        chunk = await reader.readexactly(size + 2)  # the data and its CRLF
        now = time.time()
        data = pending + chunk[:-2]
        cut = data.rfind(b"\n") + 1
        # An attribute never spans lines, so whole lines never split a `data-seq="N"`.
        if cut:
            yield data[:cut], now
        pending = data[cut:]


@dataclass
class Tally:
    """What one viewer saw: seqs must run 1, 2, 3... with no gap, repeat or reordering."""

    last: int = 0
    count: int = 0
    fault: str | None = None
    ended_at: float | None = None

    def feed(self, block: bytes, now: float) -> list[int]:
        """Account for a block; return its seqs."""
        seqs = [int(s) for s in SEQ.findall(block)]
        if seqs:
            if self.fault is None and seqs != list(range(self.last + 1, self.last + 1 + len(seqs))):
                self.fault = f"after seq {self.last} came {seqs[:5]}"
            self.last = seqs[-1]
            self.count += len(seqs)
        if self.ended_at is None and END.search(block):
            self.ended_at = now
        return seqs

    def lossless(self, events: int) -> bool:
        return self.fault is None and self.count == events and self.last == events and self.ended_at is not None


async def follow(host: str, port: int, job_id: str, *, seq_times: dict[int, float] | None = None) -> Tally:
    """Read a job's stream until its `end` event (the caller bounds the time); note each seq's read time if asked."""
    tally = Tally()
    reader, writer = await open_stream(host, port, f"/jobs/{job_id}/events")
    try:
        async for block, now in blocks(reader):
            seqs = tally.feed(block, now)
            if seq_times is not None:
                for seq in seqs:
                    seq_times[seq] = now
            if tally.ended_at is not None:
                break
    finally:
        writer.close()
    return tally

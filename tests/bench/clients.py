"""The clients that drain a stream: a WebSocket consumer (bare_websocket.py, or
python3-websockets as an application would use it; of a v2 row stream too), a ZeroMQ
SUB on the reader alone, and pg_recvlogical with the reader's wal2json options. Each
counts rows without parsing whole messages (the client must not be the bottleneck) and
returns the wall time from its first connection to the last row."""

import asyncio
import json
import os
import subprocess
import time

import websockets
import zmq

from bare_websocket import BareWebSocket
from stack import cpu_seconds, peak_mib, wait_until

# reader/stream.cpp: format-version 1, include-lsn on, pretty-print off, write-in-chunks
# on (so that pg_recvlogical prints a line per chunk: the begin, each change, the end).
WAL2JSON_OPTIONS = ["-o", "format-version=1", "-o", "include-lsn=on", "-o", "pretty-print=off",
                    "-o", "write-in-chunks=on"]
INSERT = b'"kind":"insert"'
ROW_INSERT, ROW_COMMIT = b'{"op":"insert"', b'{"op":"commit"'  # a v2 row stream's events
# proto/PROTOCOL.md: the kind, byte 1 of the header frame; the lsn, bytes 18..25.
DATA, STREAM_END, DATA_PART = 1, 3, 4


def nextlsn(message):
    """wal2json's "nextlsn" from the head of a message: {"nextlsn":"0/16D3A08","change":…"""
    head = message[:64] if isinstance(message, bytes) else message[:64].encode()
    start = head.index(b'"nextlsn":"') + 11
    return head[start:head.index(b'"', start)].decode()


def sent_ns(message):
    """The last column of the last row: the writer's time.time_ns() when it sent the row."""
    if isinstance(message, str):
        message = message.encode()
    start = message.rindex(b'"columnvalues":[') + 16
    return int(message[start:message.index(b"]", start)].rsplit(b",", 1)[-1])


def ws_drain(url, rows, before_close, timeout):
    """Consume `url` until `rows` inserts arrived; ACK the last nextlsn. Returns
    (seconds, payload bytes, last nextlsn, what before_close() returned, client CPU s)."""

    async def run():
        started, client = time.perf_counter(), time.process_time()
        async with websockets.connect(url, max_size=None, compression=None, ping_interval=None,
                                      open_timeout=timeout, close_timeout=2) as ws:
            seen = size = 0
            last = None
            while seen < rows:
                message = await asyncio.wait_for(ws.recv(), timeout)
                data = message.encode() if isinstance(message, str) else message
                seen += data.count(INSERT)
                size += len(data)
                last = data
            elapsed, client = time.perf_counter() - started, time.process_time() - client
            lsn = nextlsn(last)
            await ws.send(json.dumps({"lsn": lsn}))
            observed = before_close(lsn)
            return elapsed, size, lsn, observed, client

    return asyncio.run(run())


def _drain_bare(port, path, sink, before_close, timeout):
    """BareWebSocket on `path` until `sink.done`; then `sink.finish(ws)` gives the LSN
    acknowledged last. Returns like ws_drain."""

    async def run():
        loop = asyncio.get_running_loop()
        started, client = time.perf_counter(), time.process_time()
        sink.done = loop.create_future()

        def connect():
            sink.ws = BareWebSocket(path, port, sink)
            return sink.ws

        _, ws = await loop.create_connection(connect, "127.0.0.1", port)
        try:
            await asyncio.wait_for(ws.upgraded, timeout)
            try:
                await asyncio.wait_for(sink.done, timeout)
            except asyncio.TimeoutError:
                raise TimeoutError(f"WebSocket drain of {path}: {sink.seen} rows after {timeout}s") from None
            elapsed, client = time.perf_counter() - started, time.process_time() - client
            lsn = sink.finish(ws)
            # In a thread: the loop must go on writing what the socket did not take yet
            # (the last ACKs of a burst), or the wait for the last ACK never ends.
            observed = await loop.run_in_executor(None, before_close, lsn)
        finally:
            ws.close()
        if sink.closes:
            raise RuntimeError(f"the gateway closed the drain: {sink.closes}")
        if sink.errors:
            raise RuntimeError(f"{len(sink.errors)} error frames from the gateway, the first: {sink.errors[0][:160]}")
        return elapsed, sink.size, lsn, observed, client

    return asyncio.run(run())


class _Sink:
    def __init__(self, rows):
        self.rows, self.seen, self.size, self.done, self.ws = rows, 0, 0, None, None
        self.closes, self.errors = [], []  # close reasons; error frames (an ACK refused, ...)


def ws_drain_bare(port, path, rows, before_close, timeout):
    """ws_drain with bare_websocket.BareWebSocket instead of python3-websockets, whose
    per-message cost (a task wake-up and a timer per recv) made the client, not the
    pipeline, the limit of a drain of small messages. ACKs the last nextlsn at the end.
    Returns like ws_drain."""

    class Sink(_Sink):
        last = None

        def delivered(self, message):
            self.seen += message.count(INSERT)
            self.size += len(message)
            self.last = message
            if self.seen >= self.rows and not self.done.done():
                self.done.set_result(True)

        def finish(self, ws):
            lsn = nextlsn(self.last)
            ws.send_text(json.dumps({"lsn": lsn}))
            return lsn

    return _drain_bare(port, path, Sink(rows), before_close, timeout)


def ws_drain_rows(port, path, rows, before_close, timeout, ack="each"):
    """A v2 row stream (/v2/streams/NAME/changes: a message per event) drained with
    BareWebSocket until `rows` inserts and their commit arrived. ack="each": every commit
    is ACKed as it arrives (as an application that keeps its position does); "last": only
    the last, at the end. Returns like ws_drain."""

    class Sink(_Sink):
        lsn = None

        def delivered(self, message):
            self.size += len(message)
            if message.startswith(ROW_INSERT):
                self.seen += 1
            elif message.startswith(ROW_COMMIT):
                start = message.index(b'"lsn":"') + 7
                self.lsn = message[start:message.index(b'"', start)].decode()
                if ack == "each":
                    self.ws.send_text('{"lsn":"%s"}' % self.lsn)
                if self.seen >= self.rows and not self.done.done():
                    self.done.set_result(True)
            elif message.startswith(b'{"error"'):
                self.errors.append(message.decode(errors="replace"))

        def finish(self, ws):
            if ack == "last":
                ws.send_text('{"lsn":"%s"}' % self.lsn)
            return self.lsn

    return _drain_bare(port, path, Sink(rows), before_close, timeout)


def zmq_drain(stack, stream, rows, before_detach, timeout):
    """Subscribe to `stream` on the reader's PUB, attach it, read until `rows` inserts,
    ACK the last message over the control socket, detach. Returns like ws_drain."""
    client = time.process_time()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, stream.encode() + b"\0")
    sub.connect(stack.publish_url)
    time.sleep(0.2)  # a SUB connects asynchronously; the attach's first frames must reach it
    try:
        started = time.perf_counter()
        epoch = stack.control.ok("attach", stream=stream)["epoch"]
        seen = size = 0
        last = None
        carry = b""  # a piece may end inside a change: the marker may span two
        while seen < rows:
            if not sub.poll(int(timeout * 1000)):
                raise TimeoutError(f"ZeroMQ drain: {seen} of {rows} rows")
            _, header, payload = sub.recv_multipart()
            kind = header[1]
            if kind in (DATA, DATA_PART):  # a message, or a piece of a large one
                seen += (carry + payload).count(INSERT)
                carry = payload[-(len(INSERT) - 1):] if kind == DATA_PART else b""
                size += len(payload)
                last = int.from_bytes(header[18:26], "big")
            elif kind == STREAM_END:
                raise RuntimeError(f"stream ended: {payload!r}")
        elapsed, client = time.perf_counter() - started, time.process_time() - client
        lsn = f"{last >> 32:X}/{last & 0xFFFFFFFF:X}"
        stack.control.ok("ack", stream=stream, lsn=lsn, epoch=epoch)
        observed = before_detach(lsn)
        stack.control.ok("detach", stream=stream)
        return elapsed, size, lsn, observed, client
    finally:
        sub.close()


def recvlogical_args(pg, slot, options=WAL2JSON_OPTIONS, dsn=None):
    return ["pg_recvlogical", "-d", dsn or pg.dsn, "--slot", slot, "--start", "--no-loop", *options]


def recvlogical_drain(pg, slot, endpos, timeout, options=WAL2JSON_OPTIONS, dsn=None):
    """pg_recvlogical to /dev/null, stopping at `endpos`. Returns (seconds, walsender CPU
    seconds, walsender peak RSS MiB), read from /proc every 10 ms while it runs (it ends
    with pg_recvlogical; what it spends in its last 10 ms is not counted)."""
    started = time.perf_counter()
    process = subprocess.Popen(recvlogical_args(pg, slot, options, dsn) + ["--endpos", endpos, "-f", "/dev/null"])
    pid, cpu, peak = _poll_walsender(pg, slot, process, started + timeout)
    if process.wait(timeout) != 0:
        raise RuntimeError(f"pg_recvlogical exited with {process.returncode}")
    elapsed = time.perf_counter() - started
    # Gone, not just released: it releases the slot before it exits.
    wait_until(lambda: not pid or not os.path.exists(f"/proc/{pid}"), 15, f"walsender {pid} to end")
    return elapsed, cpu, peak


def _poll_walsender(pg, slot, process, deadline):
    """(walsender PID, CPU seconds, peak RSS MiB): CPU time and VmHWM only grow, so the
    last readings before the walsender ends are its totals."""
    pid, cpu, peak = None, 0.0, 0.0
    while process.poll() is None and time.perf_counter() < deadline:
        pid = pid or pg.walsender(slot)
        if pid:
            try:
                cpu = max(cpu, cpu_seconds(pid))
            except (OSError, IndexError):  # ending
                pass
            peak = max(peak, peak_mib(pid) or 0.0)
        time.sleep(0.01 if pid else 0.002)
    return pid, cpu, peak

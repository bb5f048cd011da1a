"""Live consumers for the latency figure, each following one slot on a thread of its own
and appending each row's latency (arrival time.time_ns() minus the send time the row
carries) to `latencies`. Used as context managers: entering connects, leaving ACKs what
arrived and disconnects."""

import asyncio
import json
import subprocess
import threading
import time

import websockets
import zmq

from bare_websocket import BareWebSocket
from clients import DATA, nextlsn, recvlogical_args, sent_ns


class _Consumer:
    def __init__(self):
        self.latencies = []
        self.last = None  # the last message, for its nextlsn

    def arrived(self, message):
        self.latencies.append(time.time_ns() - sent_ns(message))
        self.last = message


class _LoopConsumer(_Consumer):
    """An asyncio client on its own thread's loop: `_follow` runs until `_stop` is set,
    then ACKs `last`."""

    def __init__(self, stack, stream):
        super().__init__()
        self.stack, self.stream = stack, stream
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()
        self.error = None

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self._stop = self.loop.create_future()
        try:
            self.loop.run_until_complete(self._follow())
        except Exception as error:  # reported on the main thread by __exit__
            self.error = error
        finally:
            self.ready.set()
            self.loop.close()

    def __enter__(self):
        self.thread.start()
        if not self.ready.wait(15) or self.error:
            raise RuntimeError(f"{type(self).__name__} did not connect: {self.error}")
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(lambda: self._stop.done() or self._stop.set_result(True))
        self.thread.join(15)
        if self.error and not exc[0]:
            raise RuntimeError(f"{type(self).__name__} failed: {self.error}")


class BareConsumer(_LoopConsumer):
    """The bare RFC 6455 client (bare_websocket.py): the headline."""

    def delivered(self, message):
        self.arrived(message)

    async def _follow(self):
        self.closes = []
        loop = asyncio.get_running_loop()
        path = f"/v1/lr/stream?slotName={self.stream}"
        _, ws = await loop.create_connection(lambda: BareWebSocket(path, self.stack.port, self),
                                             "127.0.0.1", self.stack.port)
        try:
            await asyncio.wait_for(ws.upgraded, 15)
            self.ready.set()
            await self._stop
            if self.closes:
                raise RuntimeError(f"the gateway closed the stream: {self.closes}")
            if self.last is not None:
                ws.send_text(json.dumps({"lsn": nextlsn(self.last)}))
        finally:
            ws.close()


class LibConsumer(_LoopConsumer):
    """python3-websockets, as an application would consume: a task wake-up per message."""

    async def _follow(self):
        async with websockets.connect(self.stack.ws_url(self.stream), max_size=None, compression=None,
                                      ping_interval=None) as ws:
            self.ready.set()

            async def receive():
                while True:
                    self.arrived(await ws.recv())

            receiver = asyncio.ensure_future(receive())
            await asyncio.wait([receiver, self._stop], return_when=asyncio.FIRST_COMPLETED)
            if receiver.done():
                receiver.result()  # raises what ended it
            receiver.cancel()
            if self.last is not None:
                await ws.send(json.dumps({"lsn": nextlsn(self.last)}))


class ZmqConsumer(_Consumer):
    """A SUB on the reader alone: the stream attached over the control socket."""

    def __init__(self, stack, stream):
        super().__init__()
        self.stack, self.stream = stack, stream
        self.subscribed = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.position = None

    def _follow(self):
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, self.stream.encode() + b"\0")
        sub.connect(self.stack.publish_url)
        self.subscribed.set()
        try:
            while not self.stopping.is_set():
                if not sub.poll(50):
                    continue
                _, header, payload = sub.recv_multipart()
                if header[1] == DATA:  # single-row transactions: never in pieces
                    self.arrived(payload)
                    self.position = int.from_bytes(header[18:26], "big")
        finally:
            sub.close()

    def __enter__(self):
        self.thread.start()
        self.subscribed.wait(15)
        time.sleep(0.2)  # a SUB connects asynchronously; the attach's first frames must reach it
        self.epoch = self.stack.control.ok("attach", stream=self.stream)["epoch"]
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(15)
        if self.position is not None:
            self.stack.control.ok("ack", stream=self.stream, epoch=self.epoch,
                                  lsn=f"{self.position >> 32:X}/{self.position & 0xFFFFFFFF:X}")
        self.stack.control.ok("detach", stream=self.stream)


class RecvlogicalConsumer(_Consumer):
    """pg_recvlogical --start to stdout, read line by line: the floor."""

    def __init__(self, pg, slot):
        super().__init__()
        self.pg, self.slot = pg, slot

    def _read(self):
        for line in self.process.stdout:
            if b'"columnvalues"' in line:  # a change's chunk, not a begin or an end
                self.arrived(line)

    def __enter__(self):
        self.process = subprocess.Popen(recvlogical_args(self.pg, self.slot) + ["-f", "-"],
                                        stdout=subprocess.PIPE)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)
        self.thread.join(5)


class HopConsumer(_Consumer):
    """A SUB like ZmqConsumer's on a bare PUB (deltastream-bench-hop) that sends its own
    clock: what one ZeroMQ hop costs on this machine, none of our code on the way."""

    def __init__(self, endpoint):
        super().__init__()
        self.endpoint = endpoint
        self.stopping = threading.Event()
        self.subscribed = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)

    def arrived(self, message):
        self.latencies.append(time.time_ns() - int(message))

    def _follow(self):
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(self.endpoint)  # before the PUB binds: ZeroMQ connects when it can
        self.subscribed.set()
        try:
            while not self.stopping.is_set():
                if sub.poll(50):
                    self.arrived(sub.recv())
        finally:
            sub.close()

    def __enter__(self):
        self.thread.start()
        self.subscribed.wait(15)
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(15)


class JetStreamConsumer(_Consumer):
    """deltastream-bench-js follow (jetstream_probe.cpp): an ephemeral push consumer of a
    JetStream subject in a process of its own, which takes each arrival's time and prints
    the row's latency, read here line by line."""

    def __init__(self, probe_bin, servers, stream, subject):
        super().__init__()
        self.args = [probe_bin, servers, "follow", stream, subject]

    def _read(self):
        for line in self.process.stdout:
            self.latencies.append(int(line))

    def __enter__(self):
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE)
        if self.process.stdout.readline() != b"ready\n":  # subscribed: what is stored from now on comes
            self.process.kill()
            raise RuntimeError(f"deltastream-bench-js follow exited with {self.process.wait()}")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(10)
        self.thread.join(5)

"""Many WebSocket observers in one asyncio loop, written for low client CPU: a bare
RFC 6455 client (handshake, unmasked server frames, pong, close) on asyncio.Protocol,
so that 1000 connections cost the benchmark little and the gateway is what is measured.
Each message's latency is its arrival time minus the send time the row carries."""

import asyncio
import base64
import os
import time

from clients import sent_ns


class Observer(asyncio.Protocol):
    def __init__(self, path, port, crowd):
        self.path, self.port, self.crowd = path, port, crowd
        self.buffer = bytearray()
        self.fragments = []
        self.upgraded = asyncio.get_running_loop().create_future()
        self.transport = None
        self.closing = False

    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                         f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n").encode())

    def data_received(self, data):
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[:end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(RuntimeError(head.split(b"\r\n", 1)[0].decode()))
                self.transport.close()
                return
            self.upgraded.set_result(True)
        self._frames()

    def _frames(self):
        buffer = self.buffer
        pos = 0
        while len(buffer) - pos >= 2:
            first, second = buffer[pos], buffer[pos + 1]
            length, head = second & 0x7F, 2
            if length == 126:
                if len(buffer) - pos < 4:
                    break
                length, head = int.from_bytes(buffer[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                if len(buffer) - pos < 10:
                    break
                length, head = int.from_bytes(buffer[pos + 2:pos + 10], "big"), 10
            if len(buffer) - pos < head + length:
                break
            payload = bytes(buffer[pos + head:pos + head + length])
            pos += head + length
            self._frame(first & 0x0F, bool(first & 0x80), payload)
        del buffer[:pos]

    def _frame(self, opcode, fin, payload):
        if opcode in (0, 1, 2):
            self.fragments.append(payload)
            if fin:
                message = b"".join(self.fragments)
                self.fragments = []
                self.crowd.delivered(message)
        elif opcode == 9:  # ping: a pong with the same payload, masked with a zero key
            self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
        elif opcode == 8:
            self.crowd.closes.append(payload[2:].decode(errors="replace") or "close")
            self.closing = True
            self.transport.close()

    def connection_lost(self, exc):
        if not self.closing:
            self.crowd.closes.append("connection lost")

    def close(self):
        self.closing = True
        if self.transport:
            self.transport.close()


class Crowd:
    """N observers of one stream; latencies of messages sent at or after `since_ns`."""

    def __init__(self, port, stream):
        self.port = port
        self.path = f"/v1/lr/stream?slotName={stream}&mode=observe"
        self.observers = []
        self.latencies = []
        self.messages = 0
        self.closes = []
        self.since_ns = 0

    def delivered(self, message):
        now = time.time_ns()
        self.messages += 1
        sent = sent_ns(message)
        if sent >= self.since_ns:
            self.latencies.append(now - sent)

    async def connect(self, count, batch=50):
        loop = asyncio.get_running_loop()
        for start in range(0, count, batch):
            made = await asyncio.gather(*[loop.create_connection(
                lambda: Observer(self.path, self.port, self), "127.0.0.1", self.port)
                for _ in range(min(batch, count - start))])
            protocols = [protocol for _, protocol in made]
            await asyncio.wait_for(asyncio.gather(*[p.upgraded for p in protocols]), 30)
            self.observers += protocols

    def close(self):
        for observer in self.observers:
            observer.close()

"""A bare RFC 6455 client on asyncio.Protocol (handshake, unmasked server frames, pong,
close, one masked text frame out), written for low client CPU: no task, timer or queue
per message, so that 1000 observers, or a drain of 20,000 messages, cost the benchmark
little and the gateway is what is measured. Whole messages go to `sink.delivered`;
close reasons to `sink.closes`."""

import asyncio
import base64
import os


class BareWebSocket(asyncio.Protocol):
    def __init__(self, path, port, sink):
        self.path, self.port, self.sink = path, port, sink
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
                self.sink.delivered(message)
        elif opcode == 9:  # ping: a pong with the same payload, masked with a zero key
            self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
        elif opcode == 8:
            self.sink.closes.append(payload[2:].decode(errors="replace") or "close")
            self.closing = True
            self.transport.close()

    def connection_lost(self, exc):
        if not self.closing:
            self.sink.closes.append("connection lost")

    def close(self):
        self.closing = True
        if self.transport:
            self.transport.close()

    def send_text(self, text):
        """One text frame, masked (as a client must) with a zero key: the payload as is."""
        payload = text.encode()
        if len(payload) < 126:
            head = bytes([0x81, 0x80 | len(payload)])
        else:
            head = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big")
        self.transport.write(head + b"\0\0\0\0" + payload)

"""Many WebSocket observers in one asyncio loop (bare_websocket.py, for low client CPU).
Each message's latency is its arrival time minus the send time the row carries."""

import asyncio
import time

from bare_websocket import BareWebSocket
from clients import sent_ns


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
                lambda: BareWebSocket(self.path, self.port, self), "127.0.0.1", self.port)
                for _ in range(min(batch, count - start))])
            protocols = [protocol for _, protocol in made]
            await asyncio.wait_for(asyncio.gather(*[p.upgraded for p in protocols]), 30)
            self.observers += protocols

    def close(self):
        for observer in self.observers:
            observer.close()

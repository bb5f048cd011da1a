"""A new consumer's first connection, as a new user makes it: the reader and the gateway
have just (re)started, and the client connects and writes at once. The gateway's data
socket may reach the reader later than its control socket; no frame may be published
before it would receive it, so the first connection sees every change from seq 1."""

import asyncio
import json
import threading
import time
import unittest

import psycopg2
import websockets

from harness import drop_slots, Gateway, Reader, dsn, sql


class Writer(threading.Thread):
    """Commits single-row transactions as fast as one connection can, until stopped."""

    def __init__(self, table, first_id):
        super().__init__(daemon=True)
        self.table, self.next_id = table, first_id
        self.stopping = threading.Event()

    def run(self):
        conn = psycopg2.connect(dsn())
        conn.autocommit = True
        with conn.cursor() as cur:
            while not self.stopping.is_set():
                cur.execute(f"INSERT INTO {self.table} VALUES (%s)", (self.next_id,))
                self.next_id += 1
                time.sleep(0.001)
        conn.close()


class FirstConnectionTest(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.reader = Reader("--status-interval", "1")
        self.gateway = None

    def tearDown(self):
        if self.gateway:
            self.gateway.close()
        self.reader.close()
        drop_slots()

    async def test_connect_and_write_at_once_after_a_reader_restart(self):
        table = "first_connection_rows"
        sql(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY)")
        self.reader.kill()
        self.gateway = Gateway(self.reader)  # its sockets back off while no reader listens
        next_id = 1
        for attempt in range(5):
            with self.subTest(attempt=attempt):
                self.reader.kill() if self.reader.process.poll() is None else None
                await asyncio.sleep(0.5 + attempt * 0.3)  # the gateway's backoff grows
                self.reader.start()
                slot = self.gateway.init()  # through the control socket, which is back
                first_id = next_id
                async with websockets.connect(f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}",
                                              open_timeout=20) as ws:
                    writer = Writer(table, first_id)
                    writer.start()
                    try:
                        ids = []
                        while len(ids) < 200:
                            message = json.loads(await asyncio.wait_for(ws.recv(), 20))
                            ids += [c["columnvalues"][0] for c in message["change"]
                                    if c["table"] == table]
                    finally:
                        writer.stopping.set()
                        writer.join()
                    next_id = writer.next_id
                    # From the first row on, in order: nothing published before the
                    # gateway's subscription, no 1011 close.
                    self.assertEqual(ids[:200], list(range(first_id, first_id + 200)))
                self.gateway.http("GET", "/v1/init")  # drops this attempt's slot


if __name__ == "__main__":
    unittest.main()

"""The gateway's answers to a faulty link from the reader, through real processes: a data
frame lost on the way (a proxy between the reader's PUB and the gateway's SUB drops one)
closes the consumer with 1011, a reader that goes silent (SIGSTOP) with 1012; either way
the consumer reconnects and resumes after its last ACK, nothing lost. And an observer sees
the replay a reconnecting consumer causes."""

import asyncio
import json
import signal
import threading
import unittest

import websockets
import zmq

from harness import DATA, HEADER, Gateway, Reader, free_port, sql, wait_until


class DroppingProxy(threading.Thread):
    """XSUB on the reader's data endpoint, XPUB for the gateway: forwards everything,
    subscriptions upstream, except the data frame it is told to drop."""

    def __init__(self, upstream):
        super().__init__(daemon=True)
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        context = zmq.Context.instance()
        self.xsub = context.socket(zmq.XSUB)
        self.xsub.connect(upstream)
        self.xpub = context.socket(zmq.XPUB)
        self.xpub.bind(self.endpoint)
        self.drop_next_data = threading.Event()
        self.dropped = threading.Event()
        self.stop = threading.Event()
        self.start()

    def run(self):
        poller = zmq.Poller()
        poller.register(self.xsub, zmq.POLLIN)
        poller.register(self.xpub, zmq.POLLIN)
        while not self.stop.is_set():
            for socket, _ in poller.poll(100):
                if socket is self.xpub:
                    self.xsub.send(self.xpub.recv())
                    continue
                frames = self.xsub.recv_multipart()
                if len(frames) == 3 and HEADER.unpack(frames[1])[1] == DATA and self.drop_next_data.is_set():
                    self.drop_next_data.clear()
                    self.dropped.set()
                    continue
                self.xpub.send_multipart(frames)
        self.xsub.close(0)
        self.xpub.close(0)


class ReaderBehindProxy:
    """What Gateway needs of a reader: its control endpoint, and the proxy's for data."""

    def __init__(self, reader, proxy):
        self.control, self.publish = reader.control, proxy.endpoint


async def next_row(ws, table):
    """(id, message) of the next change to `table`."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 30))
        rows = [c["columnvalues"][0] for c in message["change"] if c["table"] == table]
        if rows:
            return rows[0], message


class LinkFaultTest(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        sql("DROP TABLE IF EXISTS link_rows; CREATE TABLE link_rows (id int PRIMARY KEY)")
        self.reader = Reader()
        self.addCleanup(self.reader.close)

    def gateway(self, reader_side, *flags):
        gateway = Gateway(reader_side, *flags)
        self.addCleanup(gateway.close)
        self.addCleanup(lambda: gateway.http("GET", "/v1/init"))  # drops its slot
        return gateway

    async def test_a_lost_frame_closes_the_consumer_with_1011_and_it_resumes(self):
        proxy = DroppingProxy(self.reader.publish)
        self.addCleanup(proxy.join)
        self.addCleanup(proxy.stop.set)
        gateway = self.gateway(ReaderBehindProxy(self.reader, proxy))
        slot = gateway.init()
        uri = f"{gateway.ws_url}/v1/lr/stream?slotName={slot}"
        async with websockets.connect(uri) as ws:
            sql("INSERT INTO link_rows VALUES (1)")
            row, first = await next_row(ws, "link_rows")
            self.assertEqual(row, 1)
            await ws.send(json.dumps({"lsn": first["nextlsn"]}))
            proxy.drop_next_data.set()
            sql("INSERT INTO link_rows VALUES (2)")  # lost on the way
            sql("INSERT INTO link_rows VALUES (3)")
            with self.assertRaises(websockets.ConnectionClosed) as closed:
                await next_row(ws, "link_rows")
        self.assertTrue(proxy.dropped.is_set())
        self.assertEqual(closed.exception.code, 1011)
        self.assertIn("changes were lost between reader and gateway", closed.exception.reason)
        async with websockets.connect(uri) as ws:
            self.assertEqual([(await next_row(ws, "link_rows"))[0] for _ in range(2)], [2, 3])

    async def test_a_silent_reader_closes_the_consumer_with_1012_and_it_resumes(self):
        gateway = self.gateway(self.reader)
        slot = gateway.init()
        uri = f"{gateway.ws_url}/v1/lr/stream?slotName={slot}"
        async with websockets.connect(uri) as ws:
            sql("INSERT INTO link_rows VALUES (1)")
            _, first = await next_row(ws, "link_rows")
            await ws.send(json.dumps({"lsn": first["nextlsn"]}))
            wait_until(lambda: sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
                                   "WHERE slot_name = %s", (slot,))[0][0] == first["nextlsn"],
                       what="the ACK to reach PostgreSQL")
            self.reader.process.send_signal(signal.SIGSTOP)
            try:
                sql("INSERT INTO link_rows VALUES (2)")  # committed while the reader is stopped
                with self.assertRaises(websockets.ConnectionClosed) as closed:
                    await next_row(ws, "link_rows")
            finally:
                self.reader.process.send_signal(signal.SIGCONT)
        self.assertEqual(closed.exception.code, 1012)
        self.assertIn("no word from the reader for 10 s", closed.exception.reason)  # the README says 10 s
        async with websockets.connect(uri) as ws:
            self.assertEqual((await next_row(ws, "link_rows"))[0], 2)

    async def test_an_observer_sees_the_replay_when_the_consumer_reconnects(self):
        gateway = self.gateway(self.reader)
        slot = gateway.init()
        uri = f"{gateway.ws_url}/v1/lr/stream?slotName={slot}"
        async with websockets.connect(uri + "&mode=observe") as observer:
            async with websockets.connect(uri) as consumer:
                sql("INSERT INTO link_rows VALUES (1)")
                self.assertEqual((await next_row(consumer, "link_rows"))[0], 1)
                self.assertEqual((await next_row(observer, "link_rows"))[0], 1)
            # Not ACKed: the consumer's return restarts the stream from before row 1,
            # and the observer, who stays, sees row 1 again.
            async with websockets.connect(uri) as consumer:
                self.assertEqual((await next_row(consumer, "link_rows"))[0], 1)
                self.assertEqual((await next_row(observer, "link_rows"))[0], 1)


if __name__ == "__main__":
    unittest.main()

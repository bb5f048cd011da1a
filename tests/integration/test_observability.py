"""GET /healthz, /readyz and /metrics (Prometheus text format) against the real reader
and gateway, scraped and parsed as Prometheus would."""

import asyncio
import json
import re
import time
import unittest
import urllib.request

import websockets

from harness import drop_slots, Gateway, Reader, cluster, sql, wait_until

SAMPLE = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? (\S+)$')


def scrape(gateway):
    """{(name, frozenset(labels)): value}; fails on any line that is not valid text format."""
    with urllib.request.urlopen(f"{gateway.url}/metrics", timeout=20) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind in ("counter", "gauge"), line
            typed.add(name)
            continue
        if line.startswith("# HELP ") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        name, labels, value = match.groups()
        assert name in typed, f"{name} has no TYPE line"
        pairs = frozenset(re.findall(r'(\w+)="([^"]*)"', labels or ""))
        samples[(name, pairs)] = float(value)
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


class ObservabilityTest(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.reader = Reader()
        self.gateway = Gateway(self.reader, "--reader-timeout-ms", "2000")

    def tearDown(self):
        self.gateway.http("GET", "/v1/init")
        self.gateway.close()
        self.reader.close()
        drop_slots()

    async def test_metrics_follow_a_stream_and_readiness_follows_the_reader(self):
        self.assertEqual(self.gateway.http("GET", "/readyz"),
                         (200, {"status": "ready", "reader": True, "postgres": True, "token_required": False}))
        sql("DROP TABLE IF EXISTS metric_rows; CREATE TABLE metric_rows (id int PRIMARY KEY)")
        slot = self.gateway.init()
        uri = f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}"
        before_attach = time.monotonic()
        async with websockets.connect(uri) as consumer, \
                websockets.connect(uri + "&mode=observe") as observer:
            sql("INSERT INTO metric_rows SELECT generate_series(1, 3)")
            text = await asyncio.wait_for(consumer.recv(), 20)
            await asyncio.wait_for(observer.recv(), 20)
            samples = scrape(self.gateway)
            self.assertEqual(value(samples, "deltastream_reader_up"), 1)
            self.assertEqual(value(samples, "deltastream_consumers", stream=slot), 1)
            self.assertEqual(value(samples, "deltastream_observers", stream=slot), 1)
            self.assertEqual(value(samples, "deltastream_messages_delivered_total", stream=slot), 2)
            self.assertEqual(value(samples, "deltastream_bytes_delivered_total", stream=slot), 2 * len(text))
            lag = value(samples, "deltastream_slot_lag_bytes", stream=slot)
            self.assertGreater(lag, 0)  # not ACKed yet
            self.assertEqual(value(samples, "deltastream_slot_lag_warning", stream=slot), 0)
            # No ACK yet: the age counts from the attach, which came after before_attach.
            age = value(samples, "deltastream_stream_last_ack_age_seconds", stream=slot)
            self.assertGreaterEqual(age, 0)
            self.assertLessEqual(age, time.monotonic() - before_attach + 0.01)
            await consumer.send(json.dumps({"lsn": json.loads(text)["nextlsn"]}))
            await consumer.send("x" * 70_000)  # over --max-frame-bytes: closed with 1009
            with self.assertRaises(websockets.ConnectionClosed):
                await asyncio.wait_for(consumer.recv(), 10)
        wait_until(lambda: value(scrape(self.gateway), "deltastream_disconnects_total",
                                 stream=slot, code="1009") == 1, what="the disconnect to be counted")
        wait_until(lambda: value(scrape(self.gateway), "deltastream_slot_lag_bytes", stream=slot) < lag,
                   what="the ACK to bring the lag down")

        self.reader.kill()
        status, body = self.gateway.http("GET", "/readyz")
        self.assertEqual((status, body["status"], body["reader"]), (503, "not ready", False))
        self.assertEqual(value(scrape(self.gateway), "deltastream_reader_up"), 0)
        self.assertEqual(self.gateway.http("GET", "/healthz"), (200, {"status": "ok"}))

    async def test_the_reconnect_counters_move(self):
        slot = self.gateway.init()
        async with websockets.connect(f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}"):
            samples = scrape(self.gateway)
            self.assertEqual(value(samples, "deltastream_stream_reconnects_total", stream=slot), 0)
            self.assertEqual(value(samples, "deltastream_reader_link_disconnects_total"), 0)
            cluster("restart")  # the reader re-makes the stream's replication connection
            wait_until(lambda: (value(scrape(self.gateway), "deltastream_stream_reconnects_total",
                                      stream=slot) or 0) >= 1,
                       timeout=30, what="the stream's reconnect to be counted")
        self.reader.kill()
        wait_until(lambda: value(scrape(self.gateway), "deltastream_reader_link_disconnects_total") == 1,
                   what="the lost reader link to be counted")


if __name__ == "__main__":
    unittest.main()

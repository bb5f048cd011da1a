"""GET /v2/slots (every slot the reader serves, with 15 minutes of lag samples), the
messages_received metric and /readyz's token_required: the API the console draws from,
checked here without a browser (test_console.py drives the page itself)."""

import asyncio
import json
import os
import re
import tempfile
import time
import unittest

import websockets

from harness import Gateway, Reader, drop_slots, sql, wait_until

ADMIN = "a" * 32
LIMITED = "l" * 32


def received_total(metrics, slot):
    match = re.search(r'^deltastream_messages_received_total\{stream="%s"[^}]*\} (\S+)$' % re.escape(slot),
                      metrics, re.M)
    return float(match.group(1)) if match else 0.0


class SlotsApiTest(unittest.TestCase):
    def setUp(self):
        sql("DROP TABLE IF EXISTS slots_orders; CREATE TABLE slots_orders (id int PRIMARY KEY, qty int)")
        tokens = tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False)
        tokens.write(f"admin {ADMIN}\nread:orders_feed {LIMITED}\n")
        tokens.close()
        self.addCleanup(os.unlink, tokens.name)
        self.reader = Reader("--status-interval", "1")
        self.gateway = Gateway(self.reader, "--token-file", tokens.name)
        self.addCleanup(self.cleanup)

    def cleanup(self):
        self.gateway.close()
        self.reader.close()
        drop_slots()
        for (name,) in sql("SELECT pubname FROM pg_publication WHERE starts_with(pubname, 'delta_v2_')"):
            sql(f'DROP PUBLICATION "{name}"')
        sql("DROP TABLE IF EXISTS slots_orders")

    def call(self, method, path, token=ADMIN, body=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.gateway.http(method, path, body, headers)

    def slots(self, token=ADMIN, query=""):
        status, body = self.call("GET", "/v2/slots" + query, token)
        self.assertEqual(status, 200, body)
        return {slot["slot"]: slot for slot in body["slots"]}

    def test_every_slot_with_its_lag_history_and_only_its_own_for_a_limited_token(self):
        status, body = self.call("POST", "/v2/streams", body=json.dumps(
            {"name": "orders_feed", "tables": [{"table": "slots_orders"}], "snapshot": False}))
        self.assertEqual(status, 201, body)
        status, init = self.call("GET", "/v1/init")
        self.assertEqual(status, 200, init)
        v1_slot = init["slotName"]

        slots = self.slots()
        self.assertLessEqual({"delta_v2_orders_feed", v1_slot}, set(slots))
        v2 = slots["delta_v2_orders_feed"]
        self.assertEqual((v2["api"], v2["name"], v2["consumer"], v2["observers"], v2["lag_warning"]),
                         ("v2", "orders_feed", {"connected": False}, 0, False))
        self.assertRegex(v2["acked_lsn"], r"^[0-9A-F]+/[0-9A-F]+$")
        self.assertIsInstance(v2["lag_bytes"], int)
        self.assertNotIn("lag_history", v2)  # asked for only
        self.assertEqual(v2["tables"], [{"table": "public.slots_orders", "columns": ["id", "qty"], "where": None}])
        self.assertEqual((slots[v1_slot]["api"], slots[v1_slot]["name"], slots[v1_slot]["tables"]), ("v1", v1_slot, None))
        status, body = self.call("GET", "/v2/slots")
        self.assertLess(abs(body["now"] - time.time()), 60)  # the gateway's clock, in seconds

        # The gateway samples every 10 s: the new stream's first sample comes within that.
        wait_until(lambda: self.slots(query="?history=true")["delta_v2_orders_feed"]["lag_history"],
                   timeout=25, what="a lag sample")
        sample = self.slots(query="?history=true")["delta_v2_orders_feed"]["lag_history"][-1]
        self.assertEqual(len(sample), 2)
        self.assertTrue(all(isinstance(value, int) for value in sample))

        self.assertEqual(set(self.slots(LIMITED)), {"delta_v2_orders_feed"})  # no v1 slot, no other stream
        self.assertEqual(self.call("GET", "/v2/slots", token=None)[0], 401)
        status, body = self.call("GET", "/v2/slots?history=maybe")
        self.assertEqual((status, body["error"]), (400, "history must be true or false"))
        self.assertEqual(self.call("POST", "/v2/slots")[0], 405)

    def test_messages_received_count_a_row_streams_events(self):
        status, body = self.call("POST", "/v2/streams", body=json.dumps(
            {"name": "orders_feed", "tables": [{"table": "slots_orders"}], "snapshot": False}))
        self.assertEqual(status, 201, body)

        async def consume():
            url = f"{self.gateway.ws_url}/v2/streams/orders_feed/changes?access_token={ADMIN}"
            async with websockets.connect(url) as ws:
                sql("INSERT INTO slots_orders SELECT g, g FROM generate_series(1, 3) g")
                events = []
                while not events or events[-1]["op"] != "commit":
                    events.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
                return events

        events = asyncio.run(consume())
        self.assertEqual([event["op"] for event in events], ["begin", "insert", "insert", "insert", "commit"])
        status, metrics = self.call("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(received_total(metrics.decode(), "delta_v2_orders_feed"), 5.0)
        self.assertEqual(self.slots()["delta_v2_orders_feed"]["messages_received"], 5)

    def test_readyz_says_whether_a_token_is_needed_and_the_console_loads_without_one(self):
        status, body = self.call("GET", "/readyz", token=None)
        self.assertEqual((status, body["token_required"]), (200, True))
        for path in ("/console", "/console/console.js", "/console/console.css"):
            conn = self.gateway.connection()
            conn.request("GET", path)
            response = conn.getresponse()
            data = response.read()
            conn.close()
            self.assertEqual(response.status, 200, path)
            self.assertIn("default-src 'none'", response.getheader("Content-Security-Policy"))
            self.assertTrue(data)
        self.assertEqual(self.call("GET", "/console/missing.js", token=None)[0], 404)


if __name__ == "__main__":
    unittest.main()

"""End to end: the real reader and gateway, driven with python3-websockets (a WebSocket
client this project did not write) through pgdeltastream's API."""

import asyncio
import json
import time
import unittest

import psycopg2
import websockets

from harness import drop_slots, Gateway, Reader, connect, dsn, sql, wait_until

# pgdeltastream's walk-through, as its README tells a client to do it.


async def changes(ws, table, count, timeout=30.0):
    """(kind, id, message) for the next `count` changes to `table`; checks every
    message's shape on the way."""
    found = []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        text = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        message = json.loads(text)
        assert set(message) == {"nextlsn", "change"}, message
        for change in message["change"]:
            if change["table"] != table:
                continue
            if change["kind"] == "delete":
                found.append(("delete", change["oldkeys"]["keyvalues"][0], message))
            else:
                found.append((change["kind"], change["columnvalues"][0], message))
    return found


def confirmed_flush(slot):
    rows = sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
               (slot,))
    return rows[0][0] if rows else None


def slot_exists(slot):
    return bool(sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot,)))


class GatewayTest(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.reader = Reader("--status-interval", "1")
        self.gateways = [Gateway(self.reader)]
        self.gateway = self.gateways[0]

    def tearDown(self):
        for gateway in self.gateways:
            try:
                gateway.http("GET", "/v1/init")  # drops the slot this gateway created last
            except OSError:
                pass
            gateway.close()
        self.reader.close()
        drop_slots()

    def table(self, name):
        sql(f"DROP TABLE IF EXISTS {name}")
        sql(f"CREATE TABLE {name} (id int PRIMARY KEY, name text, payload jsonb, amount numeric)")
        return name

    async def test_walkthrough_init_snapshot_stream_ack_reconnect_reinit(self):
        table = self.table("walk_rows")
        sql(f"INSERT INTO {table} SELECT g, 'row' || g, '{{\"k\":[1,2]}}', g * 1.5 "
            "FROM generate_series(1, 25) g")
        slot = self.gateway.init()
        self.assertRegex(slot, r"^delta_[a-z0-9_]+$")
        sql(f"INSERT INTO {table} VALUES (26, 'after init', null, 0)")

        # Snapshot, page by page: exactly the 25 rows committed before /v1/init.
        rows = []
        for offset in range(0, 30, 10):
            status, page = self.gateway.http("POST", "/v1/snapshot/data", json.dumps({
                "slotName": slot, "table": table, "offset": offset, "limit": 10,
                "order_by": {"column": "id", "order": "ASC"}}))
            self.assertEqual(status, 200, page)
            rows += page
        self.assertEqual([r["id"] for r in rows], list(range(1, 26)))
        self.assertEqual(rows[0], {"id": 1, "name": "row1", "payload": {"k": [1, 2]}, "amount": 1.5})
        self.assertEqual(list(rows[0]), ["id", "name", "payload", "amount"])  # column order

        uri = f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}"
        async with websockets.connect(uri) as ws:
            # The snapshot stays readable while the stream is consumed.
            status, page = self.gateway.http("POST", "/v1/snapshot/data", json.dumps({
                "slotName": slot, "table": table, "offset": 0, "limit": 100,
                "order_by": {"column": "id", "order": "desc"}}))
            self.assertEqual((status, page[0]["id"], len(page)), (200, 25, 25))
            for i in range(27, 31):
                sql(f"INSERT INTO {table} VALUES (%s, 'live', null, 1)", (i,))
            got = await changes(ws, table, 5)
            self.assertEqual([v for _, v, _ in got], [26, 27, 28, 29, 30])
            acked = got[2][2]["nextlsn"]  # rows up to 28 processed
            await ws.send(json.dumps({"lsn": acked}))
            wait_until(lambda: confirmed_flush(slot) == acked, what="the ACK to reach PostgreSQL")

        # Reconnect: everything after the ACK comes again, nothing before it.
        sql(f"INSERT INTO {table} VALUES (31, 'while away', null, 1)")
        async with websockets.connect(uri) as ws:
            # Clients often repeat their last ACK first: it is already committed, so it
            # is accepted silently (changes() fails on an error frame).
            await ws.send(json.dumps({"lsn": acked}))
            got = await changes(ws, table, 3)
            self.assertEqual([v for _, v, _ in got], [29, 30, 31])

        # Re-init: a new slot and snapshot; the previous slot is gone.
        second = self.gateway.init()
        self.assertNotEqual(second, slot)
        wait_until(lambda: not slot_exists(slot), what="the old slot to be dropped")
        self.assertTrue(slot_exists(second))
        status, page = self.gateway.http("POST", "/v1/snapshot/data", json.dumps({
            "table": table, "offset": 0, "limit": 1000}))
        self.assertEqual((status, len(page)), (200, 31))

    async def test_observer_and_consumer_both_see_every_change(self):
        table = self.table("fan_rows")
        slot = self.gateway.init()
        base = f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}"
        async with websockets.connect(base) as consumer, \
                websockets.connect(base + "&mode=observe") as observer:
            # No pause: the gateway accepts an observer's upgrade once it is in the hub, and
            # its SUB has subscribed to every stream since it connected to the reader.
            for i in range(20):
                sql(f"INSERT INTO {table} VALUES (%s, 'x', null, 1)", (i,))
            seen_by_consumer = await changes(consumer, table, 20)
            seen_by_observer = await changes(observer, table, 20)
            self.assertEqual([v for _, v, _ in seen_by_consumer], list(range(20)))
            self.assertEqual([v for _, v, _ in seen_by_observer], list(range(20)))
            await observer.send(json.dumps({"lsn": seen_by_observer[0][2]["nextlsn"]}))
            refusal = json.loads(await asyncio.wait_for(observer.recv(), 10))
            self.assertIn("observers do not ACK", refusal["error"])

    async def test_a_second_consumer_is_refused_unless_it_takes_over(self):
        slot = self.gateway.init()
        uri = f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}"
        async with websockets.connect(uri) as first:
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as refused:
                await websockets.connect(uri)
            self.assertEqual(refused.exception.status_code, 409)
            async with websockets.connect(uri + "&takeover=true"):
                with self.assertRaises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(first.recv(), 10)
                self.assertEqual(closed.exception.code, 1008)
                self.assertIn("taken over", closed.exception.reason)

    async def test_a_dropped_stream_closes_its_clients_without_promising_a_resume(self):
        table = self.table("dropped_rows")
        slot = self.gateway.init()
        uri = f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}"

        def metrics():
            status, text = self.gateway.http("GET", "/metrics")
            self.assertEqual(status, 200)
            return text.decode() if isinstance(text, bytes) else text

        async with websockets.connect(uri) as consumer, websockets.connect(uri + "&mode=observe") as observer:
            wait_until(lambda: sql("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                                   (slot,)) == [(True,)], 15, "the stream to start")
            sql(f"INSERT INTO {table} VALUES (1, 'before the drop', null, 1)")
            for client in (consumer, observer):
                self.assertEqual([v for _, v, _ in await changes(client, table, 1)], [1])
            self.assertIn(f'deltastream_messages_delivered_total{{stream="{slot}"}}', metrics())
            self.gateway.init()  # drops the slot of the previous /v1/init
            for client in (consumer, observer):
                with self.assertRaises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(client.recv(), 10)
                self.assertEqual(closed.exception.code, 1000)
                self.assertIn("dropped", closed.exception.reason)
                self.assertNotIn("resume", closed.exception.reason)
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as refused:
            await websockets.connect(uri)
        # 404, or 410 when the news of the drop reaches the gateway while it attaches.
        status = refused.exception.status_code
        self.assertIn(status, (404, 410))
        self.assertIn(f"{slot}: refused a WebSocket from 127.0.0.1: {status}", self.gateway.output())
        # Its series go with the slot, once PostgreSQL has dropped it (the drop waits for
        # the walsender to exit, which under load may outlast the clients' close).
        wait_until(lambda: f'"{slot}"' not in metrics(), 10, "the dropped stream's series to go")
        # Also when nobody is connected as /v1/init drops it (no stream_end to see then).
        second = self.gateway.init()
        async with websockets.connect(f"{self.gateway.ws_url}/v1/lr/stream?slotName={second}") as consumer:
            sql(f"INSERT INTO {table} VALUES (2, 'before the second drop', null, 1)")
            self.assertEqual([v for _, v, _ in await changes(consumer, table, 1)], [2])
        self.assertIn(f'"{second}"', metrics())
        self.gateway.init()
        wait_until(lambda: f'"{second}"' not in metrics(), 10, "the dropped stream's series to go")

    async def test_a_flood_of_bad_requests_does_not_flood_the_log(self):
        for _ in range(300):
            self.assertEqual(self.gateway.http("GET", "/nope")[0], 404)
        time.sleep(1.1)  # a new second: the next refusal is logged, with the count held back
        self.assertEqual(self.gateway.http("GET", "/nope-after")[0], 404)
        log = self.gateway.output()
        self.assertLess(log.count("GET /nope: 404"), 300)
        self.assertGreaterEqual(log.count("GET /nope: 404"), 50)
        self.assertIn("refusal(s) not logged: over 50 a second", log)
        self.assertIn("GET /nope-after: 404", log)

    async def test_a_slot_dropped_under_its_stream_ends_observers_for_good(self):
        slot = self.gateway.init()
        uri = f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}"
        async with websockets.connect(uri), websockets.connect(uri + "&mode=observe") as observer:
            wait_until(lambda: sql("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                                   (slot,)) == [(True,)], 15, "the stream to start")

            def drop_behind_the_readers_back():
                sql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                    "WHERE slot_name = %s AND active", (slot,))
                try:
                    sql("SELECT pg_drop_replication_slot(%s)", (slot,))
                    return True
                except psycopg2.Error:  # the reader took it back first
                    return False

            wait_until(drop_behind_the_readers_back, 15, "the slot to be dropped")
            # The reader finds the slot gone when it reconnects, and says so: the observer,
            # which a lost connection alone does not close, is closed for good.
            with self.assertRaises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(observer.recv(), 15)
            self.assertEqual(closed.exception.code, 1000)
            self.assertIn("dropped", closed.exception.reason)

    async def test_one_consumer_per_stream_across_gateways(self):
        other = Gateway(self.reader)
        self.gateways.append(other)
        table = self.table("lease_rows")
        slot = self.gateway.init()
        here = f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}"
        there = f"{other.ws_url}/v1/lr/stream?slotName={slot}"
        async with websockets.connect(here) as first:
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as refused:
                await websockets.connect(there)
            self.assertEqual(refused.exception.status_code, 409)
            async with websockets.connect(there + "&takeover=true") as second:
                with self.assertRaises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(first.recv(), 10)
                self.assertIn(closed.exception.code, (1008, 1012))
                sql(f"INSERT INTO {table} VALUES (1, 'to the new consumer', null, 1)")
                self.assertEqual([v for _, v, _ in await changes(second, table, 1)], [1])
                # The first gateway's next consumer is refused while the second holds it.
                with self.assertRaises(websockets.exceptions.InvalidStatusCode) as refused:
                    await websockets.connect(here)
                self.assertEqual(refused.exception.status_code, 409)
        # A consumer that leaves frees the stream at once, on every gateway.
        async with websockets.connect(here) as ws:
            self.assertEqual([v for _, v, _ in await changes(ws, table, 1)], [1])

        # A gateway that dies holding the consumer does not lock the stream out: the
        # lease nobody renews runs out, and the next consumer waits for it, not 409.
        ws = await websockets.connect(there)
        other.process.kill()
        other.process.wait()
        with self.assertRaises(websockets.ConnectionClosed):
            while True:  # the replay of row 1 may be waiting before the end
                await asyncio.wait_for(ws.recv(), 10)
        async with websockets.connect(here, open_timeout=20) as ws:
            sql(f"INSERT INTO {table} VALUES (2, 'after the crash', null, 1)")
            self.assertEqual([v for _, v, _ in await changes(ws, table, 2)], [1, 2])

    async def test_two_gateways_on_one_reader(self):
        other = Gateway(self.reader)
        self.gateways.append(other)
        table = self.table("pair_gw_rows")
        slot_a = self.gateway.init()
        slot_b = other.init()
        async with websockets.connect(f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot_a}") as a, \
                websockets.connect(f"{other.ws_url}/v1/lr/stream?slotName={slot_b}") as b, \
                websockets.connect(f"{other.ws_url}/v1/lr/stream?slotName={slot_a}&mode=observe") as watch:
            for i in range(10):
                sql(f"INSERT INTO {table} VALUES (%s, 'g', null, 1)", (i,))
            for ws in (a, b, watch):
                self.assertEqual([v for _, v, _ in await changes(ws, table, 10)], list(range(10)))

    async def test_reader_restart_closes_the_consumer_who_resumes_with_nothing_lost(self):
        table = self.table("reader_restart_rows")
        slot = self.gateway.init()
        uri = f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}"
        async with websockets.connect(uri) as ws:
            sql(f"INSERT INTO {table} VALUES (1, 'a', null, 1)")
            got = await changes(ws, table, 1)
            await ws.send(json.dumps({"lsn": got[0][2]["nextlsn"]}))
            wait_until(lambda: confirmed_flush(slot) == got[0][2]["nextlsn"], what="ACK")
            self.reader.kill()
            sql(f"INSERT INTO {table} VALUES (2, 'b', null, 1)")
            self.reader.start()
            sql(f"INSERT INTO {table} VALUES (3, 'c', null, 1)")
            # Nothing arrives on this connection from the new reader: its consumer state
            # belongs to the old one. It must be told to go.
            with self.assertRaises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 30)
            self.assertIn(closed.exception.code, (1011, 1012))
            # Told by the lease renewal of the next second, not by 10 s of silence.
            self.assertIn("the reader no longer streams this slot", closed.exception.reason)
        async with websockets.connect(uri) as ws:
            self.assertEqual([v for _, v, _ in await changes(ws, table, 2)], [2, 3])

    async def test_oversize_frame_closes_with_1009(self):
        slot = self.gateway.init()
        async with websockets.connect(f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}",
                                      max_size=None) as ws:
            await ws.send("x" * 70_000)  # over the default 64 KiB
            with self.assertRaises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            self.assertEqual(closed.exception.code, 1009)
            self.assertIn("over the limit of 65536 bytes", closed.exception.reason)
        # One message in many small frames is the same message: the limit still holds.
        async with websockets.connect(f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}",
                                      max_size=None) as ws:
            await ws.send(iter(["y" * 1000] * 100))
            with self.assertRaises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            self.assertEqual(closed.exception.code, 1009)
        # Under the limit, a message in fragments is read whole: an ACK error frame.
        async with websockets.connect(f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}") as ws:
            await ws.send(iter(['{"lsn":', '"zz"}']))
            self.assertIn("error", json.loads(await asyncio.wait_for(ws.recv(), 10)))
        self.assertIn(f"{slot}: error frame to the consumer at 127.0.0.1", self.gateway.output())

    async def test_sigterm_closes_websockets_with_1001_and_exits_zero(self):
        slot = self.gateway.init()
        async with websockets.connect(f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}") as ws:
            self.gateway.process.send_signal(15)
            with self.assertRaises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            self.assertEqual(closed.exception.code, 1001)
        self.assertEqual(self.gateway.process.wait(timeout=10), 0)
        self.gateway.start()


class GatewayErrorsTest(unittest.TestCase):
    """Bad input: a 4xx with a JSON body saying what is wrong, and nothing changed."""

    @classmethod
    def setUpClass(cls):
        cls.reader = Reader()
        cls.gateway = Gateway(cls.reader)
        sql("DROP TABLE IF EXISTS err_rows")
        sql('CREATE TABLE err_rows (id int PRIMARY KEY, "MixedCol" text)')
        sql("CREATE TABLE IF NOT EXISTS public.pg_class (id int)")  # a user table, named like a catalog
        sql("INSERT INTO err_rows VALUES (1, 'one'), (2, 'two')")
        cls.slot = cls.gateway.init()

    @classmethod
    def tearDownClass(cls):
        cls.gateway.http("GET", "/v1/init")
        cls.gateway.close()
        cls.reader.close()
        sql("DROP TABLE IF EXISTS public.pg_class")
        drop_slots()

    def snapshot(self, body):
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.gateway.http("POST", "/v1/snapshot/data", raw)

    def assert_error(self, status, reply, expected_status, fragment):
        self.assertEqual(status, expected_status, reply)
        self.assertIsInstance(reply, dict, reply)
        self.assertIn(fragment, reply["error"])

    def test_snapshot_input_errors(self):
        good = {"slotName": self.slot, "table": "err_rows", "offset": 0, "limit": 10}
        cases = [
            ("{nope", 400, "invalid input JSON"),
            ({**good, "table": ""}, 400, "table"),
            ({**good, "limit": -1}, 400, "non-negative"),
            ({**good, "offset": "0"}, 400, "non-negative"),
            ({**good, "limit": 10**9}, 400, "at most"),
            ({**good, "table": "no_such_table"}, 404, "unknown table"),
            ({**good, "slotName": "delta_nosuchslot"}, 404, "unknown slot"),
            ({**good, "order_by": {"column": "nope", "order": "asc"}}, 400, "unknown column"),
            ({**good, "order_by": {"column": "id", "order": "sideways"}}, 400, "'ASC' or 'DESC'"),
            # Injection attempts: refused by name resolution, never executed.
            ({**good, "table": "(select rolname as id from pg_roles) t"}, 400, "invalid table name"),
            ({**good, "table": "err_rows; drop table err_rows"}, 400, "invalid table name"),
            ({**good, "table": "pg_catalog.pg_authid) t --"}, 400, "invalid table name"),
            ({**good, "order_by": {"column": "(select count(*) from pg_authid)", "order": "asc"}},
             400, "unknown column"),
            ({**good, "order_by": {"column": "id; drop table err_rows", "order": "asc"}},
             400, "unknown column"),
            # libpq would cut the name at the NUL and read err_rows.
            ({**good, "table": "err_rows\u0000x"}, 400, "NUL"),
            # The catalogs are never served: pg_authid holds password hashes.
            ({**good, "table": "pg_catalog.pg_authid"}, 403, "system catalog"),
            ({**good, "table": "pg_class"}, 403, "system catalog"),
            ({**good, "table": "information_schema.tables"}, 403, "system catalog"),
        ]
        for body, expected_status, fragment in cases:
            with self.subTest(body=body):
                self.assert_error(*self.snapshot(body), expected_status, fragment)
        # Each refusal is logged: who asked, for what, and why not.
        log = self.gateway.output()
        self.assertIn("127.0.0.1 POST /v1/snapshot/data: 403", log)
        self.assertIn("127.0.0.1 POST /v1/snapshot/data: 400 {\"error\":\"unknown column", log)
        # A user's table named like a catalog is served when its schema says whose it is.
        self.assertEqual(self.snapshot({**good, "table": "public.pg_class"})[0], 200)
        # Nothing changed, and the snapshot still works after every error.
        status, rows = self.snapshot({**good, "order_by": {"column": '"MixedCol"', "order": "desc"}})
        self.assertEqual((status, [r["id"] for r in rows]), (200, [2, 1]))
        self.assertEqual(sql("SELECT count(*) FROM err_rows")[0][0], 2)

    def test_concurrent_requests_on_two_snapshots_each_read_their_own(self):
        import concurrent.futures
        sql("DROP TABLE IF EXISTS par_rows; CREATE TABLE par_rows (id int PRIMARY KEY)")
        sql("INSERT INTO par_rows VALUES (1), (2)")
        other = Gateway(self.reader)
        try:
            first = other.init()
            sql("INSERT INTO par_rows VALUES (3)")  # after the first snapshot, before the second
            second = self.gateway.init()
            type(self).slot = second  # the next tests read this snapshot: the last /v1/init dropped theirs
            requests = [(other, first, [1, 2]), (self.gateway, second, [1, 2, 3])] * 15

            def read(request):
                gateway, slot, _ = request
                return gateway.http("POST", "/v1/snapshot/data", json.dumps(
                    {"slotName": slot, "table": "par_rows", "offset": 0, "limit": 10,
                     "order_by": {"column": "id", "order": "ASC"}}))
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                results = list(pool.map(read, requests))
            for (_, slot, expected), (status, rows) in zip(requests, results):
                self.assertEqual(status, 200, rows)
                self.assertEqual([row["id"] for row in rows], expected, slot)
        finally:
            other.close()

    def test_http_errors(self):
        self.assert_error(*self.gateway.http("GET", "/nope"), 404, "not found")
        self.assert_error(*self.gateway.http("DELETE", "/v1/init"), 405, "method not allowed")
        for path in ("/healthz", "/readyz", "/metrics"):
            self.assert_error(*self.gateway.http("POST", path), 405, "method not allowed")
        conn = self.gateway.connection()  # probes may use HEAD: the GET's headers, no body
        conn.request("HEAD", "/healthz")
        response = conn.getresponse()
        self.assertEqual((response.status, response.getheader("Content-Length"), response.read()),
                         (200, str(len('{"status":"ok"}')), b""))
        conn.request("GET", "/healthz")  # and the connection is still good for the next
        self.assertEqual(conn.getresponse().read(), b'{"status":"ok"}')
        conn.close()
        self.assert_error(*self.gateway.http("GET", "/v1/lr/stream"), 400, "no slotName provided")
        self.assert_error(*self.snapshot("x" * (2 << 20)), 413, "over the limit")
        status, reply = self.gateway.http("GET", "/healthz", headers={"X-Big": "y" * 20000})
        self.assert_error(status, reply, 431, "headers over the limit")

    def test_garbage_bytes_get_400_and_the_server_lives(self):
        import socket as sockets
        with sockets.create_connection(("127.0.0.1", self.gateway.port), timeout=10) as s:
            s.sendall(b"\x00\xff\x13garbage\r\n\r\n")
            self.assertIn(b"400", s.recv(1000))
        status, _ = self.gateway.http("GET", "/healthz")
        self.assertEqual(status, 200)

    def test_websocket_upgrade_errors(self):
        async def attempt(query):
            try:
                await websockets.connect(f"{self.gateway.ws_url}/v1/lr/stream{query}")
            except websockets.exceptions.InvalidStatusCode as refused:
                return refused.status_code
            return 101
        self.assertEqual(asyncio.run(attempt("?slotName=delta_nosuchslot")), 404)
        self.assertEqual(asyncio.run(attempt("?slotName=Robert%27%29%3B%20DROP%20TABLE%20x%3B--")), 404)
        self.assertEqual(asyncio.run(attempt("")), 400)

    def test_init_answers_500_when_the_snapshot_cannot_be_imported(self):
        # The gateway reads another database than the reader's: PostgreSQL refuses to import
        # the new slot's snapshot there, and /v1/init must say so and leave no slot behind.
        if not sql("SELECT 1 FROM pg_database WHERE datname = 'deltastream_other'"):
            sql("CREATE DATABASE deltastream_other")
        parts = dict(item.split("=", 1) for item in dsn().split())
        other_db = " ".join(f"{k}={'deltastream_other' if k == 'dbname' else v}" for k, v in parts.items())
        slots = lambda: {row[0] for row in sql("SELECT slot_name FROM pg_replication_slots")}
        before = slots()
        gateway = Gateway(self.reader, pg=other_db)
        try:
            status, body = gateway.http("GET", "/v1/init")
            self.assert_error(status, body, 500, "unable to init session")
            self.assertIn("snapshot", body["error"])
            self.assertIn("different database", body["error"])  # PostgreSQL's own reason
            # The slot created for it is dropped (after its creating connection lets go).
            wait_until(lambda: slots() <= before, what="the slot of the failed /v1/init to be dropped")
            status, body = gateway.http("POST", "/v1/snapshot/data",
                                        json.dumps({"table": "err_rows", "offset": 0, "limit": 10}))
            self.assert_error(status, body, 503, "snapshot not available")  # none was kept either
        finally:
            gateway.close()
        self.assertEqual(self.snapshot({"slotName": self.slot, "table": "err_rows", "offset": 0, "limit": 10})[0], 200)

    @staticmethod
    def read_through(gateway):
        """(status, body) of /v1/init and a snapshot page, each over `gateway`'s own
        PostgreSQL connection (it imports the new slot's snapshot there)."""
        status, body = gateway.http("GET", "/v1/init")
        if status != 200:
            return status, body
        return gateway.http("POST", "/v1/snapshot/data", json.dumps(
            {"table": "err_rows", "offset": 0, "limit": 10}))

    def test_pgdeltastream_flags_and_variables_name_the_database(self):
        parts = dict(item.split("=", 1) for item in dsn().split())
        wrong_db = " ".join(f"{k}={'no_such_db' if k == 'dbname' else v}" for k, v in parts.items())
        variables = {"PGHOST": parts["host"], "PGPORT": parts["port"], "PGUSER": parts["user"]}
        for how, settings, works in (
                ("-pgHost -pgPort -user -db", {"pgdeltastream_flags": True}, True),
                ("the same flags, -db no_such_db", {"pgdeltastream_flags": True, "pg": wrong_db}, False),
                ("PGHOST PGPORT PGUSER DBNAME", {"pg_env": {**variables, "DBNAME": parts["dbname"]}}, True),
                ("the same variables, DBNAME=no_such_db", {"pg_env": {**variables, "DBNAME": "no_such_db"}}, False)):
            with self.subTest(how):
                gateway = Gateway(self.reader, **settings)
                try:
                    status, body = self.read_through(gateway)
                    if works:
                        self.assertEqual(status, 200, body)
                        self.assertEqual([row["id"] for row in body], [1, 2])
                    else:
                        self.assertEqual(status, 500, body)
                        self.assertIn("no_such_db", body["error"])
                finally:
                    gateway.close()


if __name__ == "__main__":
    unittest.main()

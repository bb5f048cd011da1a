"""Snapshot reads end to end: paging through POST /v1/snapshot/data (the gateway keeps
a cursor where the last page ended) and the streamed full-table read,
GET /v1/snapshot/stream, against the real reader, gateway and PostgreSQL."""

import http.client
import json
import socket
import time
import unittest
import urllib.parse

import psycopg2

from harness import drop_slots, Control, Gateway, Reader, connect, dsn, sql, wait_until

ROWS = 2500
# Rows of the big table: about 100 MB of NDJSON, far more than the gateway may hold.
BIG_ROWS = 300_000
# The page of a snapshot as PostgreSQL built it before the gateway kept cursors.
REFERENCE_PAGE = ("SELECT '[' || coalesce(string_agg(row_to_json(t)::text, ','), '') || ']' "
                  f"FROM (SELECT * FROM snap_rows WHERE id <= {ROWS} ORDER BY id OFFSET %s LIMIT %s) t")


def high_water_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


class SnapshotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sql("DROP TABLE IF EXISTS snap_rows, snap_other, snap_big")
        # Text that JSON and COPY both escape: quotes, backslashes, newlines, tabs, non-ASCII.
        sql("CREATE TABLE snap_rows (id int PRIMARY KEY, note text, doc jsonb, amount numeric)")
        sql("INSERT INTO snap_rows SELECT g, E'row \"' || g || E'\" \\\\ back\\nslash\\t\u00e9', "
            "jsonb_build_object('g', g, 's', E'a\\\\b'), g * 1.5 FROM generate_series(1, %s) g",
            (ROWS,))
        sql("CREATE TABLE snap_other (k text PRIMARY KEY)")
        sql("INSERT INTO snap_other SELECT 'k' || lpad(g::text, 4, '0') FROM generate_series(1, 300) g")
        sql("CREATE TABLE snap_big (id int PRIMARY KEY, pad text)")
        sql("INSERT INTO snap_big SELECT g, repeat('x', 300) FROM generate_series(1, %s) g", (BIG_ROWS,))
        cls.reader = Reader()
        cls.gateway = Gateway(cls.reader)
        cls.slot = cls.gateway.init()
        # After the snapshot: never seen by either read.
        sql("INSERT INTO snap_rows SELECT g, 'late', '{}', 0 FROM generate_series(%s, %s) g",
            (ROWS + 1, ROWS + 100))

    @classmethod
    def tearDownClass(cls):
        cls.gateway.http("GET", "/v1/init")
        cls.gateway.close()
        cls.reader.close()
        drop_slots()
        sql("DELETE FROM snap_rows WHERE id > %s", (ROWS,))

    # -- helpers

    def page_raw(self, offset, limit, table="snap_rows", order="ASC", column="id", gateway=None,
                 slot=None):
        gateway = gateway or self.gateway
        body = {"slotName": slot or self.slot, "table": table, "offset": offset, "limit": limit}
        if column:
            body["order_by"] = {"column": column, "order": order}
        conn = gateway.connection()
        conn.request("POST", "/v1/snapshot/data", body=json.dumps(body))
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, data

    def page_ids(self, offset, limit, **kwargs):
        status, data = self.page_raw(offset, limit, **kwargs)
        self.assertEqual(status, 200, data)
        return [row["id"] for row in json.loads(data)]

    def stream(self, **params):
        query = urllib.parse.urlencode({"slotName": self.slot, **params})
        conn = self.gateway.connection()
        conn.request("GET", f"/v1/snapshot/stream?{query}")
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response, data

    # -- paging

    def test_paging_returns_every_row_once_in_order_with_the_old_bytes(self):
        ids = []
        for offset in range(0, ROWS + 200, 97):  # the last pages run past the end: []
            status, data = self.page_raw(offset, 97)
            self.assertEqual(status, 200, data)
            ids += [row["id"] for row in json.loads(data)]
            if offset in (0, 97 * 7, ROWS - ROWS % 97, ROWS + 200 - (ROWS + 200) % 97):
                # Byte for byte what PostgreSQL's string_agg built (these rows predate the
                # snapshot and have not changed since).
                expected = sql(REFERENCE_PAGE, (offset, 97))[0][0]
                self.assertEqual(data.decode(), expected)
        self.assertEqual(ids, list(range(1, ROWS + 1)))
        status, data = self.page_raw(5, 0)
        self.assertEqual((status, data), (200, b"[]"))

    def test_pages_that_jump_back_or_ahead_or_change_order(self):
        self.assertEqual(self.page_ids(0, 100), list(range(1, 101)))
        self.assertEqual(self.page_ids(100, 100), list(range(101, 201)))
        self.assertEqual(self.page_ids(50, 10), list(range(51, 61)))  # back: a new cursor
        self.assertEqual(self.page_ids(60, 10), list(range(61, 71)))
        # Where the page read ahead starts, but larger: not that page, the rows asked for.
        self.assertEqual(self.page_ids(70, 20), list(range(71, 91)))
        self.assertEqual(self.page_ids(90, 20), list(range(91, 111)))
        self.assertEqual(self.page_ids(2000, 5), list(range(2001, 2006)))  # ahead
        self.assertEqual(self.page_ids(2005, 5), list(range(2006, 2011)))
        self.assertEqual(self.page_ids(2010, 5, order="DESC"), list(range(490, 485, -1)))
        self.assertEqual(self.page_ids(2015, 5, order="DESC"), list(range(485, 480, -1)))
        self.assertEqual(self.page_ids(0, 3), [1, 2, 3])  # same offset as the cursor's start
        self.assertEqual(self.page_ids(3, 3), [4, 5, 6])
        self.assertEqual(self.page_ids(3, 3), [4, 5, 6])  # the same page twice
        # Without order_by: a full pass still sees every row once.
        ids = []
        for offset in range(0, ROWS, 400):
            ids += self.page_ids(offset, 400, column=None)
        self.assertEqual(sorted(ids), list(range(1, ROWS + 1)))

    def test_an_error_between_pages_then_paging_goes_on(self):
        self.assertEqual(self.page_ids(0, 100), list(range(1, 101)))
        for bad in ({"column": "nope"}, {"table": "no_such_table"}, {"table": "snap_rows; x"}):
            status, data = self.page_raw(100, 100, **bad)
            self.assertIn(status, (400, 404), data)
            self.assertIn("error", json.loads(data))
            self.assertEqual(self.page_ids(100, 100), list(range(101, 201)))
            self.assertEqual(self.page_ids(200, 100), list(range(201, 301)))
            self.assertEqual(self.page_ids(0, 100), list(range(1, 101)))

    def test_two_reads_of_one_snapshot_alternately(self):
        keys, ids = [], []
        for step in range(6):
            keys += [row["k"] for row in json.loads(self.page_raw(step * 50, 50, table="snap_other",
                                                                 column="k")[1])]
            ids += self.page_ids(step * 50, 50, order="DESC")
        self.assertEqual(keys, [f"k{n:04d}" for n in range(1, 301)])
        self.assertEqual(ids, list(range(ROWS, ROWS - 300, -1)))

    def test_two_snapshots_alternately(self):
        # /v1/init drops the slot of the previous one: a second gateway holds the second
        # snapshot, which sees rows the first does not.
        other = Gateway(self.reader)
        try:
            other_slot = other.init()
            ours, theirs = [], []
            for offset in range(0, ROWS + 100, 130):
                ours += self.page_ids(offset, 130)
                theirs += self.page_ids(offset, 130, gateway=other, slot=other_slot)
            self.assertEqual(ours, list(range(1, ROWS + 1)))
            self.assertEqual(theirs, list(range(1, ROWS + 101)))
        finally:
            other.http("GET", "/v1/init")
            other.close()

    # -- the streamed read

    def test_stream_returns_every_row_once(self):
        response, data = self.stream(table="public.snap_rows")
        self.assertEqual(response.status, 200, data[:300])
        self.assertEqual(response.getheader("Content-Type"), "application/x-ndjson")
        self.assertEqual(response.getheader("Transfer-Encoding"), "chunked")
        lines = data.decode().split("\n")
        self.assertEqual(lines[-1], "")
        rows = [json.loads(line) for line in lines[:-1]]
        self.assertEqual(sorted(row["id"] for row in rows), list(range(1, ROWS + 1)))
        # The same objects as the pages, byte for byte.
        expected = sql("SELECT string_agg(row_to_json(t)::text, E'\\n' ORDER BY id) FROM "
                       "(SELECT * FROM snap_rows WHERE id <= %s) t", (ROWS,))[0][0]
        self.assertEqual(sorted(lines[:-1], key=lambda l: json.loads(l)["id"]), expected.split("\n"))
        self.assertIn('\\\\ back\\nslash\\t\u00e9', lines[0])

        response, data = self.stream(table="snap_rows", order_by="id", order="desc")
        self.assertEqual(response.status, 200)
        self.assertEqual([json.loads(l)["id"] for l in data.decode().splitlines()],
                         list(range(ROWS, 0, -1)))
        response, data = self.stream(table="snap_other", order_by="k")
        self.assertEqual(data.decode().splitlines()[:2], ['{"k":"k0001"}', '{"k":"k0002"}'])

    def test_stream_errors_come_as_json_before_any_row(self):
        cases = [
            ({"table": "no_such_table"}, 404, "unknown table"),
            ({"table": "snap_rows", "slotName": "delta_nosuchslot"}, 404, "unknown slot"),
            ({"table": "snap_rows", "order_by": "nope"}, 400, "unknown column"),
            ({"table": "snap_rows", "order_by": "id", "order": "up"}, 400, "'ASC' or 'DESC'"),
            ({"table": "(select 1) t"}, 400, "invalid table name"),
            ({"table": "snap_rows\x00x"}, 400, "NUL"),
            ({"table": "pg_authid"}, 403, "system catalog"),
            ({}, 400, "table"),
        ]
        for params, status, fragment in cases:
            with self.subTest(params=params):
                response, data = self.stream(**params)
                self.assertEqual(response.status, status, data)
                self.assertEqual(response.getheader("Content-Type"), "application/json; charset=utf-8")
                self.assertIn(fragment, json.loads(data)["error"])
        status, reply = self.gateway.http("POST", "/v1/snapshot/stream?table=snap_rows")
        self.assertEqual(status, 405)
        # A gateway that holds no snapshot: 503, as for pages.
        other = Gateway(self.reader)
        try:
            status, reply = other.http("GET", "/v1/snapshot/stream?table=snap_rows")
            self.assertEqual(status, 503, reply)
            self.assertIn("snapshot not available", reply["error"])
        finally:
            other.close()
        # Pages still work.
        self.assertEqual(self.page_ids(0, 2), [1, 2])

    def test_a_slow_reader_holds_the_gateway_to_bounded_memory(self):
        pid = self.gateway.process.pid
        self.stream(table="snap_rows")  # warm: the stream code paths have run once
        before = high_water_kib(pid)
        conn = self.gateway.connection()
        conn.connect()
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        conn.request("GET", f"/v1/snapshot/stream?slotName={self.slot}&table=snap_big")
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        total = rows = 0
        started = time.monotonic()
        while True:
            data = response.read(64 << 10)
            if not data:
                break
            total += len(data)
            rows += data.count(b"\n")
            time.sleep(0.002)  # slower than PostgreSQL writes
        elapsed = time.monotonic() - started
        conn.close()
        self.assertGreater(total, 90 << 20)
        self.assertEqual(rows, BIG_ROWS)
        grown = high_water_kib(pid) - before
        print(f"\n  streamed {total >> 20} MiB in {elapsed:.1f} s; gateway VmHWM {before >> 10} MiB, "
              f"grew {grown} KiB", end=" ")
        # "At most about a MiB per response" (README): a MiB, and as much again for the allocator.
        self.assertLess(grown, 2 << 10, f"VmHWM grew by {grown} KiB while streaming "
                                         f"{total >> 20} MiB in {elapsed:.1f} s")
        # A client that leaves mid-stream: the gateway carries on.
        with socket.create_connection(("127.0.0.1", self.gateway.port), timeout=30) as s:
            s.sendall(f"GET /v1/snapshot/stream?slotName={self.slot}&table=snap_big HTTP/1.1\r\n"
                      "Host: x\r\n\r\n".encode())
            self.assertIn(b"200 OK", s.recv(1 << 16))
        response, data = self.stream(table="snap_other")
        self.assertEqual(len(data.decode().splitlines()), 300)
        wait_until(lambda: sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%%snap_big%%' "
                               "AND pid <> pg_backend_pid()")[0][0] == 0,
                   timeout=30, what="the abandoned COPY to end")


    def test_a_stream_cut_by_the_database_ends_without_its_last_chunk(self):
        """"A failure after the first row ends the response without its last chunk" (README)."""
        other = Gateway(self.reader)  # its own slot and snapshot: the cut may take them down
        try:
            slot = other.init()
            conn = other.connection()
            conn.connect()
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
            conn.request("GET", f"/v1/snapshot/stream?slotName={slot}&table=snap_big")
            response = conn.getresponse()
            self.assertEqual(response.status, 200)
            self.assertTrue(response.read(64 << 10))  # rows are coming; the COPY runs on
            (copy,) = wait_until(lambda: sql("SELECT pid FROM pg_stat_activity WHERE query LIKE "
                                             "'COPY%%snap_big%%' AND pid <> pg_backend_pid()"),
                                 what="the gateway's COPY")
            sql("SELECT pg_terminate_backend(%s)", copy)
            with self.assertRaises(http.client.IncompleteRead):
                while response.read(64 << 10):
                    pass
            conn.close()
            status, _ = other.http("GET", "/healthz")
            self.assertEqual(status, 200)
        finally:
            other.close()


class SnapshotExpiryTest(unittest.TestCase):
    """A snapshot is not held forever: the gateway lets one go after
    --snapshot-idle-timeout seconds unused, the reader its exported one after
    --snapshot-hold seconds unless it was released sooner."""

    def setUp(self):
        sql("DROP TABLE IF EXISTS expiry_rows; CREATE TABLE expiry_rows (id int); INSERT INTO expiry_rows VALUES (1)")
        self.addCleanup(drop_slots)

    def test_the_gateway_releases_a_snapshot_left_idle(self):
        reader = Reader()
        self.addCleanup(reader.close)
        gateway = Gateway(reader, "--snapshot-idle-timeout", "1")
        self.addCleanup(gateway.close)
        slot = gateway.init()
        page = json.dumps({"slotName": slot, "table": "expiry_rows", "offset": 0, "limit": 10})
        self.assertEqual(gateway.http("POST", "/v1/snapshot/data", page), (200, [{"id": 1}]))
        wait_until(lambda: f"{slot}: snapshot released after 1 s idle" in gateway.output(), timeout=30,
                   what="the gateway to release the idle snapshot")
        status, body = gateway.http("POST", "/v1/snapshot/data", page)
        self.assertEqual(status, 503, body)
        self.assertIn("snapshot not available", body["error"])

    def test_the_reader_releases_an_exported_snapshot_held_too_long(self):
        reader = Reader("--snapshot-hold", "1")
        self.addCleanup(reader.close)
        with Control(reader.control) as control:
            created = control.ok("create")
            self.assertEqual(self.rows_in(created["snapshot"]), [(1,)])  # importable while held
            wait_until(lambda: f"{created['stream']}: released the exported snapshot (held too long)"
                       in reader.output(), timeout=30, what="the reader to release the snapshot")
            with self.assertRaises(psycopg2.errors.InvalidParameterValue):
                self.rows_in(created["snapshot"])

    @staticmethod
    def rows_in(snapshot):
        conn = psycopg2.connect(dsn())
        try:
            with conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("SET TRANSACTION SNAPSHOT %s", (snapshot,))
                cur.execute("SELECT id FROM expiry_rows")
                return cur.fetchall()
        finally:
            conn.close()

if __name__ == "__main__":
    unittest.main()

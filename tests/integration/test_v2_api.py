"""The native API (v2) end to end: real reader and gateway, python3-websockets and
http.client as clients, PostgreSQL doing the filtering."""

import asyncio
import concurrent.futures
import json
import os
import tempfile
import threading
import types
import unittest

import websockets
import zmq

from harness import Control, Gateway, Reader, Subscriber, drop_slots, sql, wait_until

SCHEMA = """
DROP TABLE IF EXISTS v2_keyed, v2_full, v2_nokey, v2_types, v2_user_types CASCADE;
DROP DOMAIN IF EXISTS v2_positive, v2_amount CASCADE;
DROP TYPE IF EXISTS v2_mood CASCADE;
CREATE DOMAIN v2_positive AS int CHECK (VALUE > 0);
CREATE DOMAIN v2_amount AS v2_positive;
CREATE TYPE v2_mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE v2_user_types (id int PRIMARY KEY, amount v2_amount, amounts v2_positive[], mood v2_mood,
                            moods v2_mood[], tags text[]);
CREATE TABLE v2_keyed (id int PRIMARY KEY, status text, total numeric(10,2), secret text);
CREATE TABLE v2_full (id int, status text, note text);
ALTER TABLE v2_full REPLICA IDENTITY FULL;
CREATE TABLE v2_nokey (a int);
CREATE TABLE v2_types (
  id int PRIMARY KEY, i2 smallint, i8 bigint, n numeric, f float8, f_nan float8, b bool,
  t text, j json, jb jsonb, ia int[], ta text[], tstz timestamptz, ts timestamp, d date,
  u uuid, by bytea, iv interval, tm time, tza timestamptz[]);
"""

TYPES_VALUES = ("%s, 7, 9007199254740993, 12345.678900, 1.5e-300, 'NaN', true, "
                "E'quote \" back \\\\ tab \\t nl \\n', E'{\"a\" :\\n [1, 2]}', '{\"b\": [true, null]}', "
                "'{1,NULL,3}', '{\"x y\",NULL,\"NULL\",\"\"}', '2026-12-02 17:00:00.123456+05:30', "
                "'2026-12-02 17:00:00', '2026-12-02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', "
                "'\\x00ff', '1 day 02:00:00', '12:34:56', '{\"2026-01-01 00:00+00\",NULL}'")


def slot_exists(name):
    return sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (name,))[0][0] > 0


def publication_exists(name):
    return sql("SELECT count(*) FROM pg_publication WHERE pubname = %s", (name,))[0][0] > 0


async def events_until(ws, predicate, timeout=20.0):
    """Messages, parsed, up to and including the first for which predicate holds."""
    got = []
    while not got or not predicate(got[-1]):
        got.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    return got


def is_marker_commit(marker_xid):
    return lambda event: event["op"] == "commit" and event["xid"] == marker_xid[0]


class V2Case(unittest.TestCase):
    gateway_flags = ()

    def setUp(self):
        sql(SCHEMA)
        self.reader = Reader("--status-interval", "1")
        self.gateway = Gateway(self.reader, *self.gateway_flags)

    def tearDown(self):
        self.gateway.close()
        self.reader.close()
        drop_slots("starts_with(slot_name, 'delta_v2_')")
        for (name,) in sql("SELECT pubname FROM pg_publication WHERE starts_with(pubname, 'delta_v2_')"):
            sql(f'DROP PUBLICATION "{name}"')

    def create(self, body, headers=None):
        return self.gateway.http("POST", "/v2/streams", json.dumps(body) if isinstance(body, dict) else body,
                                 headers=headers)

    def created(self, body):
        status, answer = self.create(body)
        self.assertEqual(status, 201, answer)
        return answer

    def ndjson(self, path):
        conn = self.gateway.connection()
        conn.request("GET", path)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        if response.status != 200:
            return response.status, json.loads(data)
        self.assertEqual(response.getheader("Content-Type"), "application/x-ndjson")
        return 200, [line for line in data.decode().split("\n") if line]

    def changes(self, name, query=""):
        return websockets.connect(f"{self.gateway.ws_url}/v2/streams/{name}/changes{query}", max_size=None)


class CreateTest(V2Case):
    def test_a_created_stream_is_shown_as_postgresql_resolved_it(self):
        body = self.created({"name": "orders_sync",
                             "tables": [{"table": "v2_keyed", "columns": ["id", "status"], "where": "id > 10"},
                                        {"table": "public.v2_full"}]})
        self.assertEqual(body["name"], "orders_sync")
        self.assertEqual(body["tables"], [
            {"table": "public.v2_full", "columns": ["id", "status", "note"], "where": None},
            {"table": "public.v2_keyed", "columns": ["id", "status"], "where": "(id > 10)"}])
        self.assertIsNotNone(body["snapshot"]["held_until"])
        self.assertEqual(body["consumer"], {"connected": False})
        self.assertEqual(body["observers"], 0)
        self.assertRegex(body["created_lsn"], r"^[0-9A-F]+/[0-9A-F]+$")
        self.assertEqual(body["acked_lsn"], body["created_lsn"])
        self.assertIsInstance(body["lag_bytes"], int)
        self.assertTrue(slot_exists("delta_v2_orders_sync") and publication_exists("delta_v2_orders_sync"))

        status, listed = self.gateway.http("GET", "/v2/streams")
        self.assertEqual((status, [s["name"] for s in listed["streams"]]), (200, ["orders_sync"]))
        status, one = self.gateway.http("GET", "/v2/streams/orders_sync")
        self.assertEqual((status, one["tables"]), (200, body["tables"]))
        self.assertEqual(self.gateway.http("GET", "/v2/streams/nobody")[0], 404)
        self.assertEqual(self.gateway.http("GET", "/v2/streams/Bad-Name")[0], 404)

    def test_metrics_label_v2_streams_by_name_and_the_lag_warning_covers_them(self):
        self.gateway.close()
        self.reader.close()
        self.reader = Reader("--status-interval", "1", "--lag-warning-bytes", str(1 << 20))
        self.gateway = Gateway(self.reader)
        self.created({"name": "watched", "tables": [{"table": "v2_keyed"}]})
        sql("INSERT INTO v2_keyed SELECT g, 'unread', g, repeat('x', 200) FROM generate_series(1, 10000) g")
        wait_until(lambda: self.gateway.http("GET", "/v2/streams/watched")[1]["lag_warning"], timeout=30,
                   what="the lag warning of an unread v2 stream")
        self.assertIn("watched", self.reader.output())
        status, metrics = self.gateway.http("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertIn('deltastream_slot_lag_bytes{stream="delta_v2_watched",v2_stream="watched"}', metrics.decode())

    def test_every_refusal_says_why_and_leaves_no_slot_and_no_publication(self):
        self.created({"name": "taken", "tables": [{"table": "v2_keyed"}]})
        cases = [
            ("{not json", 400, "JSON object"),
            ({"name": "Bad-Name", "tables": [{"table": "v2_keyed"}]}, 400, "[a-z][a-z0-9_]{0,39}"),
            ({"name": "x" * 41, "tables": [{"table": "v2_keyed"}]}, 400, "[a-z][a-z0-9_]{0,39}"),
            ({"name": "r1"}, 400, "missing \"tables\""),
            ({"name": "r1", "tables": []}, 400, "at least one table"),
            ({"name": "r1", "tables": [{"table": "v2_keyed", "colums": ["id"]}]}, 400, "unknown key \"colums\""),
            ({"name": "r1", "tables": [{"table": "v2_keyed"}], "extra": 1}, 400, "unknown key \"extra\""),
            ({"name": "r1", "tables": [{"table": "no_such_table"}]}, 404, "no_such_table"),
            ({"name": "r1", "tables": [{"table": "v2_keyed", "columns": ["id", "nope"]}]}, 400, "no column nope"),
            ({"name": "r1", "tables": [{"table": "v2_keyed", "where": "nope > 1"}]}, 400,
             "column \"nope\" does not exist"),
            ({"name": "r1", "tables": [{"table": "v2_keyed", "where": "id > 1); DROP TABLE v2_keyed; --"}]}, 400,
             "closes a parenthesis"),
            ({"name": "r1", "tables": [{"table": "v2_keyed", "where": "id > 1; SELECT 1"}]}, 400, "';'"),
            # A doubled quote inside E'' (one literal to PostgreSQL) must not end the literal early.
            ({"name": "r1", "tables": [{"table": "v2_keyed",
                                        "where": "status = E'x''\\'' IS NOT NULL) ; DROP TABLE v2_keyed; --'"}]},
             400, "\"where\" of v2_keyed"),
            ({"name": "r1", "tables": [{"table": "v2_keyed", "where": "status <> 'draft'"}]}, 400,
             "REPLICA IDENTITY FULL"),
            ({"name": "r1", "tables": [{"table": "v2_keyed", "columns": ["status"]}]}, 400, "leave out id"),
            ({"name": "r1", "tables": [{"table": "v2_full", "columns": ["id"]}]}, 400, "list every column"),
            ({"name": "r1", "tables": [{"table": "v2_nokey"}]}, 400, "no replica identity"),
            ({"name": "r1", "tables": [{"table": "v2_keyed"}, {"table": "public.v2_keyed"}]}, 400, "named twice"),
            ({"name": "taken", "tables": [{"table": "v2_full"}]}, 409, "\"taken\" exists"),
        ]
        for body, status, part in cases:
            with self.subTest(body=body):
                got, answer = self.create(body)
                self.assertEqual(got, status, answer)
                self.assertIn(part, answer["error"])
                self.assertFalse(slot_exists("delta_v2_r1") or publication_exists("delta_v2_r1"))
        self.assertEqual(sql("SELECT count(*) FROM v2_keyed")[0][0], 0)  # the table is still there
        # Nothing PostgreSQL refuses later: the application's writes all go through.
        sql("INSERT INTO v2_keyed VALUES (1, 'a', 1, 's'); UPDATE v2_keyed SET status = 'b'; DELETE FROM v2_keyed")
        sql("INSERT INTO v2_nokey VALUES (1); UPDATE v2_nokey SET a = 2; DELETE FROM v2_nokey")

    def test_two_creates_of_one_name_at_once_make_one_stream(self):
        bodies = [{"name": "raced", "tables": [{"table": "v2_keyed", "columns": ["id", "status"]}]},
                  {"name": "raced", "tables": [{"table": "v2_full"}]}]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(self.create, bodies))
        self.assertEqual(sorted(status for status, _ in answers), [201, 409], answers)
        winner = next(body for status, body in answers if status == 201)
        status, shown = self.gateway.http("GET", "/v2/streams/raced")
        self.assertEqual((status, shown["tables"]), (200, winner["tables"]))

    def test_delete_drops_slot_and_publication_and_closes_the_clients(self):
        self.created({"name": "doomed", "tables": [{"table": "v2_keyed"}]})

        async def scenario():
            async with self.changes("doomed") as consumer, self.changes("doomed", "?mode=observe") as observer:
                sql("INSERT INTO v2_keyed VALUES (1, 'a', 1, 's')")
                await events_until(consumer, lambda e: e["op"] == "commit")
                status, _ = self.gateway.http("DELETE", "/v2/streams/doomed")
                self.assertEqual(status, 204)
                for ws in (consumer, observer):
                    with self.assertRaises(websockets.ConnectionClosed) as closed:
                        while True:
                            await asyncio.wait_for(ws.recv(), 20)
                    self.assertEqual(closed.exception.code, 1000)
                    self.assertIn("deleted", closed.exception.reason)

        asyncio.run(scenario())
        self.assertFalse(slot_exists("delta_v2_doomed") or publication_exists("delta_v2_doomed"))
        self.assertEqual(self.gateway.http("DELETE", "/v2/streams/doomed")[0], 404)
        self.assertEqual(self.gateway.http("GET", "/v2/streams/doomed")[0], 404)


class ChangesTest(V2Case):
    def test_filters_hold_for_inserts_updates_into_and_out_of_the_where_and_columns(self):
        self.created({"name": "filtered",
                      "tables": [{"table": "v2_full", "where": "status <> 'draft'"},
                                 {"table": "v2_keyed", "columns": ["id", "status"]}]})

        async def scenario():
            async with self.changes("filtered") as ws:
                sql("INSERT INTO v2_full VALUES (1, 'draft', 'hidden')")
                sql("INSERT INTO v2_full VALUES (2, 'paid', 'shown')")
                sql("UPDATE v2_full SET status = 'paid' WHERE id = 1")    # into the filter: an insert
                sql("UPDATE v2_full SET status = 'draft' WHERE id = 2")   # out of it: a delete
                sql("UPDATE v2_full SET note = 'still hidden' WHERE id = 2")  # outside before and after
                sql("INSERT INTO v2_keyed VALUES (7, 'new', 9.99, 'never sent')")
                sql("UPDATE v2_keyed SET status = 'sent', secret = 'still never' WHERE id = 7")
                sql("DELETE FROM v2_keyed WHERE id = 7")
                sql("INSERT INTO v2_full VALUES (99, 'marker', 'end')")
                events = await events_until(ws, lambda e: e.get("new", {}).get("id") == 99)
            return [e for e in events if e["op"] not in ("begin", "commit")]

        rows = asyncio.run(scenario())
        self.assertEqual(rows, [
            {"op": "insert", "table": "public.v2_full", "new": {"id": 2, "status": "paid", "note": "shown"}},
            {"op": "insert", "table": "public.v2_full", "new": {"id": 1, "status": "paid", "note": "hidden"}},
            {"op": "delete", "table": "public.v2_full", "old": {"id": 2, "status": "paid", "note": "shown"}},
            {"op": "insert", "table": "public.v2_keyed", "new": {"id": 7, "status": "new"}},
            {"op": "update", "table": "public.v2_keyed", "new": {"id": 7, "status": "sent"}, "old": {"id": 7}},
            {"op": "delete", "table": "public.v2_keyed", "old": {"id": 7}},
            {"op": "insert", "table": "public.v2_full", "new": {"id": 99, "status": "marker", "note": "end"}},
        ])

    def test_an_unchanged_toast_column_is_absent_and_named_never_a_placeholder(self):
        sql("ALTER TABLE v2_keyed ALTER COLUMN secret SET STORAGE EXTERNAL")  # stored out of line, uncompressed
        self.created({"name": "toasted", "tables": [{"table": "v2_keyed"}]})

        async def scenario():
            async with self.changes("toasted") as ws:
                sql("INSERT INTO v2_keyed VALUES (1, 'a', 1, repeat('x', 10000))")
                sql("UPDATE v2_keyed SET status = 'b' WHERE id = 1")
                sql("UPDATE v2_keyed SET secret = 'short' WHERE id = 1")
                events = await events_until(ws, lambda e: e.get("new", {}).get("secret") == "short")
            return [e for e in events if e["op"] in ("insert", "update")]

        insert, untouched, changed = asyncio.run(scenario())
        self.assertEqual(len(insert["new"]["secret"]), 10000)
        self.assertEqual(untouched["new"], {"id": 1, "status": "b", "total": 1})
        self.assertEqual(untouched["unchanged"], ["secret"])
        self.assertNotIn("unchanged", changed)

    def test_transactions_frame_rows_and_a_reconnect_resumes_after_the_last_ack(self):
        self.created({"name": "acked", "tables": [{"table": "v2_keyed"}]})

        async def first_connection():
            async with self.changes("acked") as ws:
                sql("BEGIN; INSERT INTO v2_keyed VALUES (1, 'a', 1, 's'); INSERT INTO v2_keyed VALUES (2, 'b', 2, 's');"
                    " TRUNCATE v2_full; COMMIT")
                sql("INSERT INTO v2_keyed VALUES (3, 'c', 3, 's')")
                first = await events_until(ws, lambda e: e["op"] == "commit")
                second = await events_until(ws, lambda e: e["op"] == "commit")
                await ws.send(json.dumps({"lsn": first[-1]["lsn"]}))
                wait_until(lambda: self.gateway.http("GET", "/v2/streams/acked")[1]["acked_lsn"] == first[-1]["lsn"],
                           what="the ACK at the reader")
                return first, second

        first, second = asyncio.run(first_connection())
        self.assertEqual([e["op"] for e in first], ["begin", "insert", "insert", "commit"])
        begin, commit = first[0], first[-1]
        self.assertEqual(begin["xid"], commit["xid"])
        self.assertEqual(commit["changes"], 2)
        self.assertRegex(begin["commit_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")
        self.assertLess(int(begin["commit_lsn"].replace("/", ""), 16), int(commit["lsn"].replace("/", ""), 16))
        self.assertEqual([e["new"]["id"] for e in second if e["op"] == "insert"], [3])

        async def reconnect():
            async with self.changes("acked") as ws:
                return await events_until(ws, lambda e: e["op"] == "commit")

        again = asyncio.run(reconnect())
        self.assertEqual([e["new"]["id"] for e in again if e["op"] == "insert"], [3])  # not 1 and 2

    def test_the_last_ack_before_closing_is_committed(self):
        self.created({"name": "closing", "tables": [{"table": "v2_keyed"}]})

        async def scenario():
            async with self.changes("closing") as ws:
                for row in (1, 2):
                    sql(f"INSERT INTO v2_keyed VALUES ({row}, 'x', 1, 's')")
                first = await events_until(ws, lambda e: e["op"] == "commit")
                second = await events_until(ws, lambda e: e["op"] == "commit")
                await ws.send(json.dumps({"lsn": first[-1]["lsn"]}))
                await ws.send(json.dumps({"lsn": second[-1]["lsn"]}))  # while the first may be in flight
            return second[-1]["lsn"]  # closed at once

        last = asyncio.run(scenario())
        wait_until(lambda: sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
                               ("delta_v2_closing",))[0][0] == last, what="the last ACK to reach PostgreSQL")

    def test_an_ack_for_every_commit_is_taken_however_fast_they_come(self):
        self.created({"name": "acks", "tables": [{"table": "v2_keyed"}]})
        # A backlog of 20,000 single-row transactions (a DO block may COMMIT outside a transaction).
        sql("DO $$ BEGIN FOR i IN 1..20000 LOOP INSERT INTO v2_keyed VALUES (i, 'x', 1, 's'); COMMIT; END LOOP; END $$")

        async def scenario():
            async with self.changes("acks") as ws:
                commits, errors = [], []
                while len(commits) < 20000:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if event["op"] == "commit":
                        commits.append(event["lsn"])
                for position in commits:  # a burst: an ACK for every commit, as fast as they go
                    await ws.send(json.dumps({"lsn": position}))
                wait_until(lambda: self.gateway.http("GET", "/v2/streams/acks")[1]["acked_lsn"] == commits[-1],
                           what="the last ACK at the reader")
                sql("INSERT INTO v2_keyed VALUES (0, 'marker', 1, 's')")  # whatever came before it, came
                while True:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if "error" in event:
                        errors.append(event)
                    elif event.get("new", {}).get("id") == 0:
                        return errors

        self.assertEqual(asyncio.run(scenario()), [])

    def test_a_large_transaction_arrives_one_message_per_row(self):
        self.gateway.close()
        self.reader.close()
        self.reader = Reader("--status-interval", "1", "--message-part-bytes", "4096")
        self.gateway = Gateway(self.reader)
        self.created({"name": "big", "tables": [{"table": "v2_keyed"}]})

        async def scenario():
            async with self.changes("big") as ws:
                sql("INSERT INTO v2_keyed SELECT g, 'bulk', g, repeat('x', 100) FROM generate_series(1, 20000) g")
                sizes, events = [], []
                while not events or events[-1]["op"] != "commit":
                    message = await asyncio.wait_for(ws.recv(), 30)
                    sizes.append(len(message))
                    events.append(json.loads(message))
                return sizes, events

        sizes, events = asyncio.run(scenario())
        self.assertEqual(len(events), 20002)
        self.assertEqual([e["new"]["id"] for e in events[1:-1]], list(range(1, 20001)))
        self.assertEqual(events[-1]["changes"], 20000)
        self.assertLess(max(sizes), 300)  # a message is one row, never a batch

    def test_v1_keeps_its_hands_off_v2_streams(self):
        self.created({"name": "kept", "tables": [{"table": "v2_keyed"}]})
        self.gateway.init()
        self.gateway.init()  # drops the first /v1/init's slot, and only that
        self.assertTrue(slot_exists("delta_v2_kept"))
        status, body = self.gateway.http("GET", "/v1/lr/stream?slotName=delta_v2_kept",
                                         headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                                  "Sec-WebSocket-Version": "13",
                                                  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        self.assertEqual(status, 400)
        self.assertIn("/v2/streams/kept/changes", body["error"])
        drop_slots("starts_with(slot_name, 'delta_') AND NOT starts_with(slot_name, 'delta_v2_')")

    def test_a_zeromq_tool_gets_row_messages_too(self):
        control = Control(self.reader.control)
        try:
            reply = control.ok("create", stream="delta_v2_zmq", tables=[{"table": "v2_keyed", "columns": ["id"]}])
            self.assertEqual(reply["stream"], "delta_v2_zmq")
            refused = control.request("create", stream="delta_zmq_plain", tables=[{"table": "v2_keyed"}])
            self.assertEqual(refused["code"], "bad_request")
            control.ok("release", stream="delta_v2_zmq")
            sub = Subscriber(self.reader.publish, "delta_v2_zmq")
            try:
                control.ok("attach", stream="delta_v2_zmq")
                sql("INSERT INTO v2_keyed VALUES (5, 'z', 1, 's')")
                frame = sub.data(1)[0]
                lines = [json.loads(line) for line in frame["payload"].decode().split("\n")]
                self.assertEqual([line["op"] for line in lines], ["begin", "insert", "commit"])
                self.assertEqual(lines[1]["new"], {"id": 5})
            finally:
                sub.close()
        finally:
            control.close()


class SnapshotTest(V2Case):
    def test_a_snapshot_row_and_a_change_are_the_same_json(self):
        sql(f"INSERT INTO v2_types VALUES ({TYPES_VALUES % 1})")
        self.created({"name": "typed", "tables": [{"table": "v2_types"}]})

        async def change():
            async with self.changes("typed") as ws:
                sql(f"INSERT INTO v2_types VALUES ({TYPES_VALUES % 2})")
                events = await events_until(ws, lambda e: e["op"] == "commit")
                return [e for e in events if e["op"] == "insert"][0]["new"]

        new = asyncio.run(change())
        status, lines = self.ndjson("/v2/streams/typed/snapshot?table=public.v2_types")
        self.assertEqual(status, 200, lines)
        [snapshot_row] = [json.loads(line) for line in lines]
        self.assertEqual(snapshot_row.pop("id"), 1)
        self.assertEqual(new.pop("id"), 2)
        self.assertEqual(new, snapshot_row)
        self.assertEqual(new["i8"], 9007199254740993)  # a number, not a string
        self.assertEqual(new["j"], {"a": [1, 2]})
        self.assertEqual(new["ta"], ["x y", None, "NULL", ""])
        self.assertEqual(new["f_nan"], "NaN")

    def test_user_defined_types_are_written_as_to_json_writes_them(self):
        values = "%s, 42, '{1,2}', 'happy', '{sad,ok}', '{a}'"
        sql(f"INSERT INTO v2_user_types VALUES ({values % 1})")
        self.created({"name": "custom", "tables": [{"table": "v2_user_types"}]})

        async def change():
            async with self.changes("custom") as ws:
                sql(f"INSERT INTO v2_user_types VALUES ({values % 2})")
                events = await events_until(ws, lambda e: e["op"] == "commit")
                return [e for e in events if e["op"] == "insert"][0]["new"]

        new = asyncio.run(change())
        [snapshot_row] = [json.loads(line) for line in self.ndjson("/v2/streams/custom/snapshot?table=v2_user_types")[1]]
        self.assertEqual(new, {"id": 2, "amount": 42, "amounts": [1, 2], "mood": "happy", "moods": ["sad", "ok"],
                               "tags": ["a"]})
        self.assertEqual(snapshot_row, dict(new, id=1))

    def test_a_gateway_never_serves_the_snapshot_of_a_deleted_stream_as_a_new_ones(self):
        sql("INSERT INTO v2_keyed VALUES (1, 'before', 1, 's')")
        self.created({"name": "again", "tables": [{"table": "v2_keyed"}]})  # this gateway holds its snapshot
        other = Gateway(self.reader)
        try:
            self.assertEqual(other.http("DELETE", "/v2/streams/again")[0], 204)
            sql("INSERT INTO v2_keyed VALUES (2, 'between', 1, 's')")
            status, _ = other.http("POST", "/v2/streams", json.dumps({"name": "again", "tables": [{"table": "v2_keyed"}]}))
            self.assertEqual(status, 201)
            status, body = self.ndjson("/v2/streams/again/snapshot?table=v2_keyed")
            self.assertEqual(status, 410, body)
            self.assertIn("deleted since", body["error"])
            conn = other.connection()
            conn.request("GET", "/v2/streams/again/snapshot?table=v2_keyed")
            rows = [json.loads(line)["id"] for line in conn.getresponse().read().decode().split()]
            conn.close()
            self.assertEqual(rows, [1, 2])
        finally:
            other.close()

    def test_snapshot_in_key_order_resumes_after_a_key_and_refuses_clearly(self):
        sql("INSERT INTO v2_keyed SELECT g, 'old', g, 's' FROM generate_series(1, 1000) g")
        self.created({"name": "paged", "tables": [{"table": "v2_keyed", "columns": ["id", "status"], "where": "id % 2 = 0"}]})
        sql("INSERT INTO v2_keyed VALUES (5000, 'after the snapshot', 0, 's')")  # not in it
        base = "/v2/streams/paged/snapshot?table=v2_keyed"
        status, whole = self.ndjson(base)
        self.assertEqual(status, 200)
        rows = [json.loads(line) for line in whole]
        self.assertEqual([r["id"] for r in rows], list(range(2, 1001, 2)))
        self.assertEqual(rows[0], {"id": 2, "status": "old"})
        status, head = self.ndjson(base + "&limit=300")
        status, tail = self.ndjson(base + "&after=" + json.dumps([json.loads(head[-1])["id"]]))
        self.assertEqual(head + tail, whole)
        self.assertEqual(self.ndjson(base + "&limit=0")[1], [])

        self.assertEqual(self.ndjson("/v2/streams/paged/snapshot?table=v2_full")[0], 404)
        self.assertEqual(self.ndjson("/v2/streams/nobody/snapshot?table=v2_keyed")[0], 404)
        for query, part in [("&after=[1,2]", "1 value"), ("&after=oops", "JSON array"), ("&after=[\"x\"]", "integer"),
                            ("&limit=-1", "whole number")]:
            with self.subTest(query=query):
                status, body = self.ndjson(base + query)
                self.assertEqual(status, 400, body)
                self.assertIn(part, body["error"])

        self.created({"name": "unheld", "tables": [{"table": "v2_keyed"}], "snapshot": False})
        status, body = self.ndjson("/v2/streams/unheld/snapshot?table=v2_keyed")
        self.assertEqual(status, 410)
        self.assertIn("no longer held", body["error"])


class LimitedTokenTest(V2Case):
    def setUp(self):
        self.tokens = tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False)
        self.tokens.write("admin aaaaaaaaaaaaaaaaaaaaaaaa\nread:mine llllllllllllllllllllllll\n")
        self.tokens.close()
        self.gateway_flags = ("--token-file", self.tokens.name)
        super().setUp()

    def tearDown(self):
        super().tearDown()
        os.unlink(self.tokens.name)

    def test_a_token_limited_to_streams_reads_only_those(self):
        admin = {"Authorization": "Bearer aaaaaaaaaaaaaaaaaaaaaaaa"}
        limited = {"Authorization": "Bearer llllllllllllllllllllllll"}
        for name in ("mine", "theirs"):
            status, _ = self.create({"name": name, "tables": [{"table": "v2_keyed"}]}, headers=admin)
            self.assertEqual(status, 201)
        self.assertEqual(self.create({"name": "x", "tables": [{"table": "v2_keyed"}]}, headers=limited)[0], 403)
        status, listed = self.gateway.http("GET", "/v2/streams", headers=limited)
        self.assertEqual([s["name"] for s in listed["streams"]], ["mine"])
        self.assertEqual(self.gateway.http("GET", "/v2/streams/theirs", headers=limited)[0], 403)
        self.assertEqual(self.gateway.http("GET", "/v1/init", headers=limited)[0], 403)
        self.assertEqual(self.gateway.http("DELETE", "/v2/streams/mine", headers=limited)[0], 403)

        async def scenario():
            url = f"{self.gateway.ws_url}/v2/streams/%s/changes?access_token=llllllllllllllllllllllll"
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as refused:
                await websockets.connect(url % "theirs")
            self.assertEqual(refused.exception.status_code, 403)
            async with websockets.connect(url % "mine") as ws:
                sql("INSERT INTO v2_keyed VALUES (1, 'a', 1, 's')")
                return await events_until(ws, lambda e: e["op"] == "commit")

        self.assertEqual(asyncio.run(scenario())[1]["new"]["id"], 1)


class ProtocolVersionTest(unittest.TestCase):
    def test_a_reader_and_a_gateway_of_different_releases_refuse_each_other(self):
        reader = Reader()
        control = Control(reader.control)
        try:
            refused = control.request("status", protocol=1)
            self.assertEqual(refused["code"], "bad_request")
            self.assertIn("control protocol 1 is not this reader's (2)", refused["error"])
            self.assertEqual(control.ok("status")["protocol"], 2)  # no "protocol": read as this one
        finally:
            control.close()
            reader.close()

        # A reader of the release before: it answers, without naming a version.
        context = zmq.Context.instance()
        router = context.socket(zmq.ROUTER)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        old_reader = types.SimpleNamespace(control=f"tcp://127.0.0.1:{port}", publish="tcp://127.0.0.1:1")
        gateway = Gateway(old_reader)
        stop = threading.Event()

        def answer_like_version_1():
            while not stop.is_set():
                if router.poll(100):
                    *route, body = router.recv_multipart()
                    request = json.loads(body)
                    router.send_multipart([*route, json.dumps({"id": request.get("id", ""), "ok": True,
                                                                "streams": []}).encode()])

        thread = threading.Thread(target=answer_like_version_1)
        thread.start()
        try:
            status, body = gateway.http("GET", "/v2/streams")
            self.assertEqual(status, 503, body)
            self.assertIn("the reader speaks control protocol 1 (none named), this gateway 2", body["error"])
            self.assertIn("the reader speaks control protocol", gateway.output())
        finally:
            stop.set()
            thread.join()
            gateway.close()
            router.close(linger=0)


if __name__ == "__main__":
    unittest.main()

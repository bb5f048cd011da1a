"""The README's walk-through, run as it is written: its curl commands go through bash with
only the port and the slot name replaced, against the quickstart's demo tables
(deploy/demo-schema.sql) in a database of their own and a gateway on its default host,
`localhost`; the WebSocket step, which the README shows with websocat, uses
python3-websockets on the README's URL. Every answer the README prints is compared with
the real one, so the README cannot drift from the product."""

import asyncio
import json
import os
import re
import shlex
import subprocess
import unittest

import websockets

from harness import drop_slots, Gateway, Reader, dsn, parse_lsn, sql, wait_until

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
README = os.path.join(ROOT, "README.md")
DEMO_SCHEMA = os.path.join(ROOT, "deploy", "demo-schema.sql")
DATABASE = "deltastream_readme"
README_PORT = "localhost:12312"
LSN = re.compile(r"^[0-9A-F]+/[0-9A-F]+$")


def readme_blocks(after_heading):
    """The ```sh blocks of the README section that starts with `after_heading`."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text[text.index(after_heading):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def steps(block):
    """[(command, [the answer lines the README prints under it])]: a command runs on until
    its quotes close; `# 1. …` lines title a step and are not answers."""
    parsed, pending = [], ""
    for line in block.splitlines():
        if pending:
            pending += "\n" + line
        elif line.startswith("# "):
            if parsed and not re.match(r"# \d+\. ", line):
                parsed[-1][1].append(line[2:].strip())
            continue
        elif line.strip():
            pending = line
        else:
            continue
        try:
            shlex.split(pending)
        except ValueError:  # an open quote: the command goes on
            continue
        parsed.append((pending, []))
        pending = ""
    return parsed


def matches_shape(expected, real):
    """The README's JSON with `[...]` standing for any list and LSNs for any LSN."""
    if expected == "...":
        return isinstance(real, list)
    if isinstance(expected, dict):
        return (isinstance(real, dict) and list(expected) == list(real)
                and all(matches_shape(expected[k], real[k]) for k in expected))
    if isinstance(expected, list):
        return (isinstance(real, list) and len(expected) == len(real)
                and all(matches_shape(e, r) for e, r in zip(expected, real)))
    if isinstance(expected, str) and LSN.match(expected):
        return isinstance(real, str) and bool(LSN.match(real))
    return expected == real


def demo_dsn():
    return re.sub(r"dbname=\S+", f"dbname={DATABASE}", dsn())


def run(command):
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"{command!r} failed with {result.returncode}: {result.stderr}")
    return result.stdout


class DemoDatabaseCase(unittest.IsolatedAsyncioTestCase):
    """The quickstart's demo tables in a database of their own, a reader and a gateway on it."""

    def setUp(self):
        self.drop_database()
        sql(f"CREATE DATABASE {DATABASE}")
        subprocess.run(["psql", demo_dsn(), "-Xq", "-v", "ON_ERROR_STOP=1", "-f", DEMO_SCHEMA], check=True)
        self.reader = Reader(pg=demo_dsn())
        self.addCleanup(self.drop_database)
        self.addCleanup(self.reader.close)
        self.gateway = Gateway(self.reader, pg=demo_dsn(), host="localhost")
        self.addCleanup(self.gateway.close)
        self.slot = None

    def drop_database(self):
        drop_slots("database = %s", (DATABASE,))
        sql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")

    def demo_sql(self, query):
        subprocess.run(["psql", demo_dsn(), "-Xq", "-v", "ON_ERROR_STOP=1", "-c", query], check=True)

    def as_here(self, text):
        """The README's text with this gateway's port and the slot it created."""
        text = text.replace(README_PORT, f"localhost:{self.gateway.port}")
        return text.replace("delta_shaggyq3k9a1", self.slot) if self.slot else text

    def assert_slot_reply(self, step):
        command, answer = step
        self.assertEqual(command, "curl -s localhost:12312/v1/init")
        reply = run(self.as_here(command))
        shape = re.escape(answer[0]).replace("delta_shaggyq3k9a1", "(delta_[a-z0-9_]+)")
        found = re.fullmatch(shape, reply.strip())
        self.assertIsNotNone(found, f"the README prints {answer[0]}, the gateway answered {reply}")
        return found.group(1)

    async def next_message(self, ws):
        return json.loads(await asyncio.wait_for(ws.recv(), 30))


class ReadmeWalkthroughTest(DemoDatabaseCase):
    async def test_the_walkthrough_answers_as_printed(self):
        init, page, stream, ack, reinit = steps(readme_blocks("## The API")[0])

        self.slot = self.assert_slot_reply(init)

        # The page: its first row exactly as printed, then the other demo orders.
        printed = page[1][0]
        self.assertTrue(printed.endswith(", ...]"), printed)
        reply = run(self.as_here(page[0]))
        self.assertTrue(reply.startswith(printed[:-len(", ...]")]), f"printed {printed}, got {reply}")
        rows = json.loads(reply)
        self.assertEqual([row["id"] for row in rows], [1, 2, 3])

        # The stream: a change committed after the snapshot, in the printed shape.
        url = next(word for word in shlex.split(self.as_here(stream[0])) if word.startswith("ws://"))
        self.demo_sql("INSERT INTO orders (customer, total) VALUES ('bob', 20.00)")
        self.demo_sql("INSERT INTO orders (customer, total) VALUES ('cy', 30.00)")
        expected = json.loads(" ".join(stream[1]).replace("[...]", '"..."'))
        async with websockets.connect(url) as ws:
            first = await self.next_message(ws)
            self.assertTrue(matches_shape(expected, first), f"printed {expected}, got {first}")
            self.assertEqual(first["change"][0]["columnvalues"][:2], [4, "bob"])
            second = await self.next_message(ws)
            self.assertEqual(second["change"][0]["columnvalues"][:2], [5, "cy"])

            # The ACK, as printed, with the first message's nextlsn.
            message = json.loads(ack[0])
            self.assertEqual(list(message), ["lsn"])
            await ws.send(ack[0].replace(message["lsn"], first["nextlsn"]))
            wait_until(lambda: self.confirmed() >= parse_lsn(first["nextlsn"]),
                       what="the ACK to reach PostgreSQL")

        # "Reconnect at any time: the stream resumes right after your last ACK."
        async with websockets.connect(url) as ws:
            again = await self.next_message(ws)
            self.assertEqual(again["change"][0]["columnvalues"][:2], [5, "cy"])

        # Start over: a new slot; the previous one is dropped.
        previous = self.slot
        self.slot = None
        self.slot = self.assert_slot_reply((reinit[0], init[1]))
        self.assertNotEqual(self.slot, previous)
        wait_until(lambda: not sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (previous,)),
                   what="the previous slot to be dropped")

    def confirmed(self):
        row = sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
                  (self.slot,))
        return parse_lsn(row[0][0])

    def test_reading_a_whole_table_answers_as_printed(self):
        self.slot = self.assert_slot_reply(steps(readme_blocks("## The API")[0])[0])
        block = next(b for b in readme_blocks("## The API") if "/v1/snapshot/stream" in b)
        [(command, printed)] = steps(block)
        lines = run(self.as_here(command)).splitlines()
        self.assertEqual(lines[:len(printed)], printed)
        self.assertEqual(len(lines), 3)  # and the third demo order


class ReadmeNativeApiTest(DemoDatabaseCase):
    """The native API's walk-through, as printed."""

    def tearDown(self):
        drop_slots("starts_with(slot_name, 'delta_v2_')")
        super().tearDown()

    async def test_the_native_walkthrough_answers_as_printed(self):
        create, snapshot, changes, ack, delete = steps(readme_blocks("## The native API")[0])

        printed = json.loads(create[1][0])
        created = json.loads(run(self.as_here(create[0])))
        self.assertEqual(list(created), list(printed))
        volatile = {"snapshot", "acked_lsn", "lag_bytes", "created_lsn"}
        self.assertEqual({k: v for k, v in created.items() if k not in volatile},
                         {k: v for k, v in printed.items() if k not in volatile})
        self.assertRegex(created["snapshot"]["held_until"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertTrue(LSN.match(created["created_lsn"]) and LSN.match(created["acked_lsn"]))

        self.assertEqual(run(self.as_here(snapshot[0])).splitlines(), snapshot[1])

        url = next(word for word in shlex.split(self.as_here(changes[0])) if word.startswith("ws://"))
        expected = [json.loads(line) for line in changes[1]]
        async with websockets.connect(url) as ws:
            self.demo_sql("INSERT INTO orders (customer, total) VALUES ('bob', 20.00)")
            got = [await self.next_message(ws) for _ in expected]
            for want, real in zip(expected, got):
                self.assertEqual(list(real), list(want))
                self.assertEqual(real["op"], want["op"])
            self.assertEqual(got[1]["new"], expected[1]["new"])
            self.assertEqual(got[2]["changes"], expected[2]["changes"])
            self.assertRegex(got[0]["commit_time"], r"^\d{4}-\d\d-\d\dT[\d:.]+\+00:00$")
            message = json.loads(ack[0])
            await ws.send(ack[0].replace(message["lsn"], got[2]["lsn"]))
            wait_until(lambda: self.stream()["acked_lsn"] == got[2]["lsn"], what="the ACK")
        self.demo_sql("INSERT INTO orders (customer, total) VALUES ('cy', 30.00)")
        async with websockets.connect(url) as ws:  # resumes after the ACK: cy, not bob again
            again = [await self.next_message(ws) for _ in expected]
            self.assertEqual(again[1]["new"]["customer"], "cy")

        self.assertEqual(run(self.as_here(delete[0]) + " -o /dev/null -w '%{http_code}'"), "204")
        self.assertFalse(sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'delta_v2_orders_sync'"))

    def stream(self):
        return json.loads(run(f"curl -s localhost:{self.gateway.port}/v2/streams/orders_sync"))


class ReadmeDifferencesTest(unittest.IsolatedAsyncioTestCase):
    """Rows of the README's table of differences from pgdeltastream that no other test
    exercises, each as the README words it."""

    def setUp(self):
        self.reader = Reader("--status-interval", "1")
        self.addCleanup(self.reader.close)
        self.gateway = Gateway(self.reader)
        self.addCleanup(self.gateway.close)
        self.addCleanup(lambda: self.gateway.http("GET", "/v1/init"))  # drops the slot made last
        sql("DROP TABLE IF EXISTS readme_rows, readme_ddl; CREATE TABLE readme_rows (id int PRIMARY KEY, secret text)")

    def confirmed(self, slot):
        return parse_lsn(sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
                             (slot,))[0][0])

    async def test_transactions_without_row_changes_are_not_sent_and_the_slot_moves_past_them(self):
        slot = self.gateway.init()
        async with websockets.connect(f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}") as ws:
            sql("CREATE TABLE readme_ddl (id int)")  # DDL: a transaction without row changes
            sql("VACUUM readme_rows")
            sql("INSERT INTO readme_rows VALUES (1, 'marker')")
            first = json.loads(await asyncio.wait_for(ws.recv(), 30))
            self.assertEqual(first["change"][0]["columnvalues"], [1, "marker"], "something came before the row")
            await ws.send(json.dumps({"lsn": first["nextlsn"]}))
            # "Once everything sent is ACKed, the slot moves past them by itself."
            sql("DROP TABLE readme_ddl")
            after_ddl = parse_lsn(sql("SELECT pg_current_wal_lsn()::text")[0][0])
            wait_until(lambda: self.confirmed(slot) >= after_ddl, what="the slot to move past the DDL")

    def test_a_trailing_slash_is_served_as_the_path_without_it(self):
        for path in ("/healthz/", "/v1/init/"):
            status, body = self.gateway.http("GET", path)
            self.assertEqual(status, 200, (path, body))
        self.assertRegex(body["slotName"], r"^delta_")

    async def test_row_data_never_appears_in_the_logs(self):
        secret = "row-value-7f3c9e"
        sql("INSERT INTO readme_rows VALUES (1, %s)", (secret,))
        slot = self.gateway.init()
        status, rows = self.gateway.http("POST", "/v1/snapshot/data", json.dumps(
            {"slotName": slot, "table": "readme_rows", "offset": 0, "limit": 10}))
        self.assertEqual((status, rows), (200, [{"id": 1, "secret": secret}]))
        async with websockets.connect(f"{self.gateway.ws_url}/v1/lr/stream?slotName={slot}") as ws:
            sql("INSERT INTO readme_rows VALUES (2, %s)", (secret,))
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            self.assertEqual(message["change"][0]["columnvalues"], [2, secret])
            await ws.send(json.dumps({"lsn": message["nextlsn"]}))
            await ws.send(json.dumps({"lsn": "FF/0"}))  # refused: its error is logged
            self.assertIn("error", json.loads(await asyncio.wait_for(ws.recv(), 30)))
        # Both run at --log-level debug, their most talkative.
        self.assertIn(slot, self.gateway.output())
        self.assertNotIn(secret, self.gateway.output() + self.reader.output())


if __name__ == "__main__":
    unittest.main()

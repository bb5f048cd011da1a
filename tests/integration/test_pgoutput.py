"""pgoutput decoded by the reader against wal2json itself: one workload through a slot of
each plugin, read through the same reader (the same connection settings), byte for byte."""

import os
import time
import unittest

import psycopg2

from harness import DATA, Control, Reader, ReaderCase, Subscriber, connect, drop_slots, sql

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "pgoutput")


def run_workload():
    """setup.sql, then changes.sql a statement a line, as tests/golden/pgoutput/record.py does."""
    conn = connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        with open(os.path.join(GOLDEN, "changes.sql")) as changes:
            for line in changes:
                if line.strip() and not line.startswith("--"):
                    cur.execute(line)
        cur.execute("INSERT INTO golden.composite_key VALUES ('marker', 0, 'the end')")
    conn.close()


def setup_tables():
    conn = connect()
    conn.autocommit = True
    with conn.cursor() as cur, open(os.path.join(GOLDEN, "setup.sql")) as setup:
        cur.execute(setup.read())
    conn.close()


def drop_publications(*names):
    for name in names:
        sql(f'DROP PUBLICATION IF EXISTS "{name}", "{name}_keyed"')


def messages_until_marker(sub, timeout=60.0):
    deadline = time.monotonic() + timeout
    messages = []
    while not messages or b'"the end"' not in messages[-1]:
        messages += [frame["payload"] for frame in sub.data(1, timeout=max(0.1, deadline - time.monotonic()))]
    return messages


def first_difference(got, want):
    at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    start = max(0, at - 60)
    return (f"first difference at byte {at}:\n  pgoutput: ...{got[start:at + 80]!r}\n"
            f"  wal2json: ...{want[start:at + 80]!r}")


class PgoutputTest(ReaderCase):
    def setUp(self):
        drop_publications("deltastream")
        setup_tables()
        # Small parts: the large transactions cross the ZeroMQ hop in pieces, and pgoutput's
        # wait in the spill file.
        self.reader = Reader("--status-interval", "1", "--message-part-bytes", "4096")
        self.control = Control(self.reader.control)
        self.streams = []
        self.subs = []

    def tearDown(self):
        super().tearDown()
        drop_publications("deltastream", "ds_unsafe")
        sql("DROP SCHEMA IF EXISTS golden, golden_hidden CASCADE; DROP TYPE IF EXISTS public.golden_level; "
            "DROP TABLE IF EXISTS public.pgoutput_later, public.pgoutput_later_keyed")

    def create(self, plugin):
        reply = self.control.ok("create", plugin=plugin)
        self.streams.append(reply["stream"])
        self.assertEqual(reply["plugin"], plugin)
        self.control.ok("release", stream=reply["stream"])
        return reply["stream"]

    def attach(self, stream):
        sub = Subscriber(self.reader.publish, stream)
        self.subs.append(sub)
        self.control.ok("attach", stream=stream)
        return sub

    def test_pgoutput_stream_is_byte_for_byte_the_wal2json_stream(self):
        by_wal2json = self.attach(self.create("wal2json"))
        by_pgoutput = self.attach(self.create("pgoutput"))
        run_workload()
        want = messages_until_marker(by_wal2json)
        got = messages_until_marker(by_pgoutput)
        self.assertGreater(len(want), 20)
        for index, (mine, theirs) in enumerate(zip(got, want)):
            if mine != theirs:
                self.fail(f"message {index} of {len(want)}: " + first_difference(mine, theirs))
        self.assertEqual(len(got), len(want))
        listed = {s["stream"]: s["plugin"] for s in self.control.ok("list")["streams"]}
        self.assertEqual(listed[self.streams[0]], "wal2json")
        self.assertEqual(listed[self.streams[1]], "pgoutput")

    def test_the_publications_it_creates_never_refuse_an_application_write(self):
        stream = self.create("pgoutput")
        kinds = {name: (upd, dele, alltables) for name, upd, dele, alltables in
                 sql("SELECT pubname, pubupdate, pubdelete, puballtables FROM pg_publication "
                     "WHERE pubname IN ('deltastream', 'deltastream_keyed')")}
        self.assertEqual(kinds, {"deltastream": (False, False, True), "deltastream_keyed": (True, True, False)})
        # Tables without a replica identity, one made before and one after: PostgreSQL
        # accepts their UPDATEs and DELETEs, and their INSERTs stream.
        sql("CREATE TABLE public.pgoutput_later (id int, name text)")
        sub = self.attach(stream)
        for table in ("golden.no_key", "golden.no_identity", "public.pgoutput_later"):
            sql(f"INSERT INTO {table} VALUES (1, 'a'); UPDATE {table} SET name = 'b'; DELETE FROM {table}")
        sql("INSERT INTO golden.composite_key VALUES ('marker', 0, 'the end')")
        seen = b"".join(messages_until_marker(sub))
        self.assertIn(b'"table":"pgoutput_later"', seen)
        self.assertNotIn(b'"kind":"update"', seen)
        self.assertNotIn(b'"kind":"delete"', seen)
        # A keyed table created later: the next pgoutput create adds it to _keyed.
        sql("CREATE TABLE public.pgoutput_later_keyed (id int PRIMARY KEY)")
        self.create("pgoutput")
        self.assertEqual(sql("SELECT count(*) FROM pg_publication_tables WHERE pubname = 'deltastream_keyed' "
                             "AND tablename = 'pgoutput_later_keyed'")[0][0], 1)

    def test_a_publication_that_breaks_writes_is_refused_and_nothing_is_created(self):
        sql("CREATE PUBLICATION ds_unsafe FOR TABLE golden.no_key, golden.everything")
        unsafe = Reader("--publication", "ds_unsafe")
        try:
            with Control(unsafe.control) as control:
                before = sql("SELECT count(*) FROM pg_replication_slots")[0][0]
                reply = control.request("create", plugin="pgoutput")
                self.assertFalse(reply["ok"], reply)
                self.assertIn("golden.no_key", reply["error"])
                self.assertNotIn("golden.everything", reply["error"])
                self.assertIn("REPLICA IDENTITY FULL", reply["error"])
                self.assertEqual(sql("SELECT count(*) FROM pg_replication_slots")[0][0], before)
                bad = control.request("create", plugin="test_decoding")
                self.assertFalse(bad["ok"])
                self.assertIn('"plugin" must be', bad["error"])
        finally:
            unsafe.close()

    def test_a_restarted_reader_decodes_a_slot_by_its_own_plugin(self):
        stream = self.create("pgoutput")
        self.reader.close()
        self.control.close()
        self.reader = Reader("--plugin", "wal2json")  # another default: the slot decides
        self.control = Control(self.reader.control)
        sub = self.attach(stream)
        sql("INSERT INTO golden.composite_key VALUES ('marker', 0, 'the end')")
        self.assertIn(b'"columnvalues":["marker",0,"the end"]', messages_until_marker(sub)[-1])


if __name__ == "__main__":
    unittest.main()

"""The at-least-once core at the reader: fenced ACKs, leases granted only to attaches that
succeed, and acknowledged changes that never come again, also after PostgreSQL crashes."""

import json
import unittest
import uuid

from harness import (HEARTBEAT, STREAM_END, Control, Reader, Subscriber, cluster, format_lsn,
                     sql, wait_until)
from test_reader import changes_to, collect


class DeliveryCoreTest(unittest.TestCase):
    def setUp(self):
        self.reader = Reader("--status-interval", "1")
        self.control = Control(self.reader.control)
        self.streams = []
        self.subs = []

    def tearDown(self):
        for stream in self.streams:
            try:
                self.control.request("drop", stream=stream)
            except Exception:
                pass
        for sub in self.subs:
            sub.close()
        self.control.close()
        self.reader.close()
        for stream in self.streams:
            sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s AND NOT active", (stream,))

    def new_table(self, name):
        sql(f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (id int PRIMARY KEY)")
        return name

    def create(self, **fields):
        stream = self.control.ok("create", **fields)["stream"]
        self.streams.append(stream)
        self.control.ok("release", stream=stream)
        return stream

    def subscribe(self, stream):
        sub = Subscriber(self.reader.publish, stream)
        self.subs.append(sub)
        return sub

    def attach(self, sub, stream, **fields):
        reply = self.control.ok("attach", stream=stream, restart=True, **fields)
        sub.wait_for(lambda f: f["kind"] == HEARTBEAT and f["epoch"] == reply["epoch"],
                     what="the new epoch")
        return reply

    def test_an_ack_in_flight_from_a_consumer_taken_over_moves_nothing(self):
        table = self.new_table("fenced_rows")
        stream = self.create()
        sub = self.subscribe(stream)
        first = self.attach(sub, stream, consumer="tool-a")
        for i in range(1, 11):
            sql(f"INSERT INTO {table} VALUES (%s)", (i,))
        seen_by_a = collect(sub, table, 10)
        lsn_of = {value: frame["lsn"] for _, value, frame in seen_by_a}
        self.control.ok("ack", stream=stream, lsn=format_lsn(lsn_of[3]), epoch=first["epoch"],
                        consumer="tool-a")

        second = self.attach(sub, stream, consumer="tool-b", takeover=True)
        self.assertEqual(second["ended_epoch"], first["epoch"])
        self.assertEqual(second["start_lsn"], format_lsn(lsn_of[3]))
        # tool-a processed up to row 8 and its ACK arrives now: tool-b holds the stream.
        late = self.control.request("ack", stream=stream, lsn=format_lsn(lsn_of[8]),
                                    epoch=first["epoch"], consumer="tool-a")
        self.assertEqual((late["ok"], late["code"]), (False, "taken_over"))
        # Named by the holder, but for the epoch that is over: refused too.
        stale = self.control.request("ack", stream=stream, lsn=format_lsn(lsn_of[8]),
                                     epoch=first["epoch"], consumer="tool-b")
        self.assertEqual((stale["ok"], stale["code"]), (False, "stale_epoch"))

        seen_by_b = collect(sub, table, 7)
        self.assertEqual([v for _, v, _ in seen_by_b], list(range(4, 11)))
        self.assertTrue(all(f["epoch"] == second["epoch"] for _, _, f in seen_by_b))
        self.control.ok("ack", stream=stream, lsn=format_lsn(seen_by_b[1][2]["lsn"]),  # row 5
                        epoch=second["epoch"], consumer="tool-b")
        # tool-b reconnects: everything after its own last ACK, none skipped.
        third = self.attach(sub, stream, consumer="tool-b")
        again = collect(sub, table, 5)
        self.assertEqual([v for _, v, _ in again], list(range(6, 11)))
        self.assertTrue(all(f["epoch"] == third["epoch"] for _, _, f in again))

    def test_a_failed_attach_locks_nobody_out(self):
        name = "delta_lockout_" + uuid.uuid4().hex[:8]
        refused = self.control.request("attach", stream=name, restart=True, consumer="tool-a")
        self.assertEqual((refused["ok"], refused["code"]), (False, "no_such_stream"))
        self.create(stream=name)
        # Without waiting out a lease that tool-a never had.
        self.control.ok("attach", stream=name, restart=True, consumer="tool-b")
        held = self.control.request("attach", stream=name, restart=True, consumer="tool-c")
        self.assertEqual((held["ok"], held["code"], held["conflict"]), (False, "conflict", True))
        self.assertGreater(held["retry_after_ms"], 0)

    def test_an_acknowledged_change_never_comes_again_after_a_postgres_crash(self):
        table = self.new_table("crash_acked_rows")
        stream = self.create()
        sql("CHECKPOINT")  # the slot's position on disk: from before any of the rows below
        sub = self.subscribe(stream)
        attached = self.attach(sub, stream, consumer="tool-a")
        for i in range(1, 6):
            sql(f"INSERT INTO {table} VALUES (%s)", (i,))
        found = collect(sub, table, 5)
        self.control.ok("ack", stream=stream, lsn=format_lsn(found[1][2]["lsn"]),  # row 2
                        epoch=attached["epoch"], consumer="tool-a")

        cluster("kill")  # immediate stop: PostgreSQL forgets confirmed_flush_lsn since CHECKPOINT
        try:
            end = sub.wait_for(lambda f: f["kind"] == STREAM_END, what="stream_end")
            self.assertEqual(json.loads(end["payload"])["code"], "connection_lost")
            # Processed while PostgreSQL was away: the ACK still counts.
            self.control.ok("ack", stream=stream, lsn=format_lsn(found[4][2]["lsn"]),  # row 5
                            epoch=attached["epoch"], consumer="tool-a")
        finally:
            cluster("start")
        sub.wait_for(lambda f: f["kind"] == HEARTBEAT and f["epoch"] != attached["epoch"],
                     timeout=30, what="the stream back in a new epoch")
        sql(f"INSERT INTO {table} VALUES (6)")  # the marker: nothing may come before it
        self.assertEqual([v for _, v, _ in collect(sub, table, 1)], [6])


if __name__ == "__main__":
    unittest.main()

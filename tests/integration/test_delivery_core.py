"""The at-least-once core at the reader: fenced ACKs, leases granted only to attaches that
succeed, and acknowledged changes that never come again, also after PostgreSQL crashes."""

import json
import os
import tempfile
import unittest
import uuid

import zmq

from harness import (drop_slots, HEARTBEAT, STREAM_END, Control, Reader, ReaderCase, Subscriber, cluster,
                     format_lsn, sql, wait_until)
from test_pressure import insert_rows
from test_reader import changes_to, collect


class DeliveryCoreTest(ReaderCase):
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

    def sent_past(self, stream, position):
        """The walsender has sent the stream's changes up to `position`: a reader that
        published without a subscriber would have dropped them by now."""
        rows = sql("SELECT r.sent_lsn >= %s::pg_lsn FROM pg_stat_replication r "
                   "JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = %s",
                   (position, stream))
        return bool(rows and rows[0][0])

    def listed(self, stream):
        return {s["stream"]: s for s in self.control.ok("list")["streams"]}[stream]

    def test_an_epoch_waits_for_a_subscriber_before_its_first_frame(self):
        table = self.new_table("early_rows")
        stream = self.create()
        attached = self.control.ok("attach", stream=stream, restart=True)  # nobody subscribed
        sql(f"INSERT INTO {table} VALUES (1)")
        position = sql("SELECT pg_current_wal_lsn()::text")[0][0]
        wait_until(lambda: self.sent_past(stream, position), what="the walsender to send the row")
        self.assertTrue(self.listed(stream)["awaiting_subscriber"])
        sub = self.subscribe(stream)
        (first,) = sub.data(1)
        self.assertEqual((first["epoch"], first["seq"]), (attached["epoch"], 1))
        self.assertEqual([v for _, v, _ in changes_to([first], table)], [1])
        self.assertFalse(self.listed(stream)["awaiting_subscriber"])

    def test_an_attach_with_a_marker_waits_for_that_subscriber(self):
        table = self.new_table("marker_rows")
        stream = self.create()
        self.subscribe(stream)  # someone else's SUB, subscribed all along
        attached = self.control.ok("attach", stream=stream, restart=True, marker="tool-b-1")
        sql(f"INSERT INTO {table} VALUES (1)")
        position = sql("SELECT pg_current_wal_lsn()::text")[0][0]
        wait_until(lambda: self.sent_past(stream, position), what="the walsender to send the row")
        self.assertTrue(self.listed(stream)["awaiting_subscriber"])
        late = self.subscribe(stream)  # tool-b's SUB connects only now, with its marker
        late.socket.setsockopt(zmq.SUBSCRIBE, stream.encode() + b"\0tool-b-1")
        (first,) = late.data(1)
        self.assertEqual((first["epoch"], first["seq"]), (attached["epoch"], 1))
        self.assertEqual([v for _, v, _ in changes_to([first], table)], [1])

    def test_an_end_the_full_subscribers_refused_is_delivered_late_never_silently_not(self):
        table = "late_end_rows"
        sql(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY, pad text)")
        reader = Reader("--high-water-mark", "5", "--status-interval", "1")
        try:
            with Control(reader.control) as control:
                stream = control.ok("create")["stream"]
                self.streams.append(stream)
                control.ok("release", stream=stream)
                sub = Subscriber(reader.publish, stream, receive_hwm=5)  # reads only later
                self.subs.append(sub)
                first = control.ok("attach", stream=stream, restart=True)
                insert_rows(table, 2000, 1, 10_000)  # far more than the queues and sockets hold

                def listed():
                    return {s["stream"]: s for s in control.ok("list")["streams"]}[stream]
                wait_until(lambda: listed()["held_back"], what="the full subscriber to hold the reader")
                control.ok("detach", stream=stream)  # its stream_end finds the queue full
                second = control.ok("attach", stream=stream, restart=True)
                self.assertTrue(listed()["awaiting_subscriber"])  # behind the end of the first
                frames = []
                while not frames or frames[-1]["epoch"] != second["epoch"]:
                    frames.append(sub.recv(30))
                ends = [f for f in frames if f["kind"] == STREAM_END]
                self.assertEqual(len(ends), 1, "the first epoch's end never came")
                self.assertEqual(ends[0]["epoch"], first["epoch"])
                self.assertEqual(json.loads(ends[0]["payload"])["code"], "detached")
                self.assertIs(frames[-2], ends[0])  # the last frame of its epoch
                control.ok("drop", stream=stream)
                self.streams.remove(stream)
        finally:
            reader.close()

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

    def test_an_acknowledged_change_never_comes_again_after_postgres_and_the_reader_crash(self):
        table = self.new_table("journal_acked_rows")
        journal = os.path.join(tempfile.mkdtemp(prefix="ack-journal-"), "acks")
        reader = Reader("--status-interval", "1", "--ack-journal", journal)
        stream = None
        try:
            with Control(reader.control) as control:
                stream = control.ok("create")["stream"]
                control.ok("release", stream=stream)
                sql("CHECKPOINT")  # the slot's position on disk: from before any of the rows
                sub = Subscriber(reader.publish, stream)
                attached = control.ok("attach", stream=stream, restart=True)
                sub.wait_for(lambda f: f["kind"] == HEARTBEAT and f["epoch"] == attached["epoch"],
                             what="the epoch")
                for i in range(1, 6):
                    sql(f"INSERT INTO {table} VALUES (%s)", (i,))
                found = collect(sub, table, 5)
                sub.close()
                acked = found[2][2]["lsn"]  # row 3
                control.ok("ack", stream=stream, lsn=format_lsn(acked), epoch=attached["epoch"])
                # PostgreSQL confirms it only once the journal holds it.
                wait_until(lambda: confirmed_flush(stream) >= acked, what="PostgreSQL to confirm the ACK")
                self.assertIn(f"{stream} {format_lsn(acked)}\n", read_text(journal))

            reader.kill()
            cluster("kill")  # immediate stop: the slot's position since CHECKPOINT is forgotten
            cluster("start")
            self.assertLess(confirmed_flush(stream), acked, "PostgreSQL kept the position: no test")
            reader.start()
            sub = Subscriber(reader.publish, stream)
            with Control(reader.control) as control:
                attached = control.ok("attach", stream=stream, restart=True)
                self.assertEqual(attached["start_lsn"], format_lsn(acked))
                sql(f"INSERT INTO {table} VALUES (6)")  # the marker: rows 4 and 5 come before it
                self.assertEqual([v for _, v, _ in collect(sub, table, 3)], [4, 5, 6])
                sub.close()
                control.ok("drop", stream=stream)
                dropped, stream = stream, None
                wait_until(lambda: dropped not in read_text(journal),  # a dropped stream leaves it
                           what="the journal to forget the dropped stream")
        finally:
            reader.close()
            if stream:
                drop_slots("slot_name = %s", (stream,))


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def confirmed_flush(stream):
    """The slot's confirmed_flush_lsn as a number."""
    text = sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
               (stream,))[0][0]
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


if __name__ == "__main__":
    unittest.main()

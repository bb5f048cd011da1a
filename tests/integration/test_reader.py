"""The reader against the real PostgreSQL: snapshots, streaming, ACKs, crashes."""

import json
import os
import signal
import subprocess
import time
import unittest

import psycopg2

from harness import (DATA, HEARTBEAT, STREAM_END, Control, ReaderCase, Subscriber,
                     cluster, connect, dsn, format_lsn, parse_lsn, rows_of, sql, wait_for_status_update,
                     wait_until)


def confirmed_flush(stream):
    rows = sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
               (stream,))
    return parse_lsn(rows[0][0]) if rows else None


def changes_to(frames, table):
    """(kind, first column value, frame) for each change to `table`, in arrival order."""
    out = []
    for frame in frames:
        for change in rows_of(frame)["change"]:
            if change["table"] != table:
                continue
            if change["kind"] == "delete":
                out.append(("delete", change["oldkeys"]["keyvalues"][0], frame))
            else:
                out.append((change["kind"], change["columnvalues"][0], frame))
    return out


def collect(sub, table, count, timeout=30.0):
    """Data frames until `count` changes to `table` arrived."""
    frames, found = [], []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        frames += sub.data(1, timeout=max(0.1, deadline - time.monotonic()))
        found = changes_to(frames, table)
    return found


class ReaderTest(ReaderCase):
    def new_table(self, name):
        sql(f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (id int PRIMARY KEY, name text)")
        return name

    def create(self):
        reply = self.control.ok("create")
        self.streams.append(reply["stream"])
        return reply

    def attach(self, stream, **fields):
        sub = Subscriber(self.reader.publish, stream)
        self.subs.append(sub)
        reply = self.control.ok("attach", stream=stream, **fields)
        # Frames published before the SUB's subscription took effect are not ours to
        # see; a heartbeat of the new epoch proves that it has.
        sub.wait_for(lambda f: f["kind"] == HEARTBEAT and f["epoch"] == reply["epoch"],
                     what="first heartbeat")
        return sub, reply

    def test_snapshot_shows_exactly_the_rows_committed_before_it(self):
        table = self.new_table("snap_rows")
        sql(f"INSERT INTO {table} SELECT g, 'before' FROM generate_series(1, 3) g")
        created = self.create()
        self.assertRegex(created["stream"], r"^delta_[a-z]+[a-z0-9]{6}$")
        self.assertEqual(created["slot"], created["stream"])
        parse_lsn(created["consistent_point"])
        sql(f"INSERT INTO {table} VALUES (4, 'after')")
        sql(f"UPDATE {table} SET name = 'changed' WHERE id = 1")

        conn = connect()
        conn.autocommit = False
        with conn.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            cur.execute("SET TRANSACTION SNAPSHOT %s", (created["snapshot"],))
            cur.execute(f"SELECT id, name FROM {table} ORDER BY id")
            self.assertEqual(cur.fetchall(), [(1, "before"), (2, "before"), (3, "before")])
        conn.rollback()

        # The changes after the snapshot are exactly what the stream starts with.
        sub, _ = self.attach(created["stream"])
        found = collect(sub, table, 2)
        self.assertEqual([(kind, value) for kind, value, _ in found], [("insert", 4), ("update", 1)])

        # Released, the snapshot can no longer be imported: once the walsender that
        # exported it has gone, which PostgreSQL does just after the reader hangs up.
        self.control.ok("release", stream=created["stream"])
        def import_fails():
            try:
                with conn.cursor() as cur:
                    cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                    cur.execute("SET TRANSACTION SNAPSHOT %s", (created["snapshot"],))
                conn.rollback()
                return False
            except psycopg2.Error:
                conn.rollback()
                return True
        wait_until(import_fails, timeout=5, what="the released snapshot to go")
        conn.close()

    def test_changes_arrive_in_commit_order_with_sequence_and_lsn(self):
        table = self.new_table("order_rows")
        stream = self.create()["stream"]
        sub, attached = self.attach(stream)
        with connect() as conn, conn.cursor() as cur:
            cur.execute(f"INSERT INTO {table} VALUES (1, 'a')")
            cur.execute(f"INSERT INTO {table} VALUES (2, 'b')")
            cur.execute(f"UPDATE {table} SET name = 'c' WHERE id = 1")
            cur.execute(f"DELETE FROM {table} WHERE id = 2")
            cur.execute(f"BEGIN; INSERT INTO {table} VALUES (3, 'x'); "
                        f"UPDATE {table} SET name = 'y' WHERE id = 3; COMMIT")
        conn.close()
        found = collect(sub, table, 6)
        self.assertEqual([(kind, value) for kind, value, _ in found],
                         [("insert", 1), ("insert", 2), ("update", 1), ("delete", 2),
                          ("insert", 3), ("update", 3)])
        self.assertIs(found[4][2], found[5][2], "one transaction, one message")
        frames = []
        for _, _, frame in found:
            if not frames or frames[-1] is not frame:
                frames.append(frame)
        for frame in frames:
            message = rows_of(frame)
            self.assertEqual(set(message), {"nextlsn", "change"})
            self.assertEqual(frame["lsn"], parse_lsn(message["nextlsn"]))
            self.assertEqual(frame["epoch"], attached["epoch"])
            self.assertEqual(frame["stream"], stream)
        seqs = [frame["seq"] for frame in frames]
        lsns = [frame["lsn"] for frame in frames]
        self.assertEqual(lsns, sorted(lsns))
        self.assertEqual(len(set(seqs)), len(seqs))
        self.assertEqual(seqs, sorted(seqs))

    def test_sequence_numbers_have_no_gaps(self):
        table = self.new_table("gapless_rows")
        stream = self.create()["stream"]
        sub, attached = self.attach(stream)
        for i in range(50):
            sql(f"INSERT INTO {table} VALUES (%s, 'r')", (i,))
        frames = []
        while len(changes_to(frames, table)) < 50:
            frames += sub.data(1)
        self.assertEqual([f["seq"] for f in frames], list(range(1, len(frames) + 1)))

    def test_ack_moves_confirmed_flush_lsn_and_bad_acks_change_nothing(self):
        table = self.new_table("ack_rows")
        stream = self.create()["stream"]
        sub, attached = self.attach(stream)
        epoch = attached["epoch"]
        for i in range(3):
            sql(f"INSERT INTO {table} VALUES (%s, 'a')", (i,))
        found = collect(sub, table, 3)
        second = found[1][2]["lsn"]
        reply = self.control.ok("ack", stream=stream, lsn=format_lsn(second), epoch=epoch)
        self.assertEqual(reply["acked"], format_lsn(second))
        wait_until(lambda: confirmed_flush(stream) == second, what="confirmed_flush_lsn to move")

        # Beyond what was delivered: refused, never sent to PostgreSQL.
        beyond = self.control.request("ack", stream=stream, lsn="FF/FFFFFF00", epoch=epoch)
        self.assertFalse(beyond["ok"])
        self.assertEqual(beyond["code"], "beyond_delivered")
        self.assertIn("beyond what was delivered", beyond["error"])
        junk = self.control.request("ack", stream=stream, lsn="garbage", epoch=epoch)
        self.assertFalse(junk["ok"])
        self.assertEqual(junk["code"], "bad_request")
        self.assertIn("not a valid LSN", junk["error"])
        # An epoch that is not the stream's: refused, whatever the position.
        stale = self.control.request("ack", stream=stream, lsn=format_lsn(found[2][2]["lsn"]),
                                     epoch=epoch - 1)
        self.assertEqual((stale["ok"], stale["code"]), (False, "stale_epoch"))
        # Backwards: accepted as a no-op; positions never move back.
        back = self.control.ok("ack", stream=stream, lsn=format_lsn(found[0][2]["lsn"]), epoch=epoch)
        self.assertEqual(back["acked"], format_lsn(second))
        wait_for_status_update(stream)  # one went by: nothing may have moved it
        self.assertEqual(confirmed_flush(stream), second)

    def test_kill_9_and_restart_resumes_from_the_committed_position(self):
        table = self.new_table("crash_rows")
        stream = self.create()["stream"]
        sub, _ = self.attach(stream)
        for i in range(1, 11):
            sql(f"INSERT INTO {table} VALUES (%s, 'x')", (i,))
        found = collect(sub, table, 10)
        acked = found[4][2]["lsn"]  # rows 1..5 processed
        self.control.ok("ack", stream=stream, lsn=format_lsn(acked), epoch=found[4][2]["epoch"])
        wait_until(lambda: confirmed_flush(stream) == acked, what="ack to reach PostgreSQL")

        self.reader.kill()
        for i in range(11, 16):  # committed while no reader runs
            sql(f"INSERT INTO {table} VALUES (%s, 'y')", (i,))
        self.reader.start()
        sub2, _ = self.attach(stream)
        again = collect(sub2, table, 10)
        self.assertEqual([value for _, value, _ in again], list(range(6, 16)))

    def test_postgres_restart_is_survived(self):
        table = self.new_table("restart_rows")
        stream = self.create()["stream"]
        sub, attached = self.attach(stream)
        sql(f"INSERT INTO {table} VALUES (1, 'before')")
        first = collect(sub, table, 1)
        self.control.ok("ack", stream=stream, lsn=format_lsn(first[0][2]["lsn"]),
                        epoch=attached["epoch"])
        wait_until(lambda: confirmed_flush(stream) == first[0][2]["lsn"], what="ack")
        sql(f"INSERT INTO {table} VALUES (2, 'unacked')")
        collect(sub, table, 1)

        cluster("restart")  # immediate stop, then start
        end = sub.wait_for(lambda f: f["kind"] == STREAM_END, what="stream_end")
        self.assertEqual(end["epoch"], attached["epoch"])
        self.assertEqual(json.loads(end["payload"])["code"], "connection_lost")
        new_epoch = sub.wait_for(lambda f: f["kind"] in (HEARTBEAT, DATA) and
                                 f["epoch"] != attached["epoch"], timeout=30, what="new epoch")
        self.assertGreater(new_epoch["epoch"], attached["epoch"])
        self.reader.alive()
        sql(f"INSERT INTO {table} VALUES (3, 'after')")
        if new_epoch["kind"] == DATA:
            frames = [new_epoch] + []
        else:
            frames = []
        while len(changes_to(frames, table)) < 2:
            frames += sub.data(1, timeout=30)
        # The unacked row comes again (at least once), then the new one; nothing lost.
        self.assertEqual([v for _, v, _ in changes_to(frames, table)], [2, 3])
        self.assertIn("reconnecting", self.reader.output())

    def test_two_streams_stream_at_once(self):
        table = self.new_table("pair_rows")
        a = self.create()["stream"]
        b = self.create()["stream"]
        sub_a, _ = self.attach(a)
        sub_b, _ = self.attach(b)
        for i in range(5):
            sql(f"INSERT INTO {table} VALUES (%s, 'p')", (i,))
        for sub in (sub_a, sub_b):
            self.assertEqual([v for _, v, _ in collect(sub, table, 5)], list(range(5)))

    def test_list_shows_our_slots_only_and_drop_removes_them(self):
        stream = self.create()["stream"]
        sql("SELECT pg_create_logical_replication_slot('my_delta_slot', 'test_decoding')")
        sql("SELECT pg_logical_emit_message(false, 'lag', 'WAL past the slot')")
        try:
            listed = {s["stream"]: s for s in self.control.ok("list")["streams"]}
            self.assertIn(stream, listed)
            self.assertNotIn("my_delta_slot", listed)
            entry = listed[stream]
            parse_lsn(entry["confirmed_flush_lsn"])
            # Nobody ACKed what was written since the slot was made: PostgreSQL's WAL end
            # minus the slot's position, read after the list so it is an upper bound.
            wal_end = parse_lsn(sql("SELECT pg_current_wal_lsn()::text")[0][0])
            self.assertGreater(entry["lag_bytes"], 0)
            self.assertLessEqual(entry["lag_bytes"], wal_end - parse_lsn(entry["confirmed_flush_lsn"]))
            self.assertFalse(entry["attached"])
            self.control.ok("attach", stream=stream)
            listed = {s["stream"]: s for s in self.control.ok("list")["streams"]}
            self.assertTrue(listed[stream]["attached"])
            self.assertIn("epoch", listed[stream])
            self.control.ok("drop", stream=stream)
            self.assertNotIn(stream, {s["stream"] for s in self.control.ok("list")["streams"]})
            self.assertIsNone(confirmed_flush(stream))
            refused = self.control.request("drop", stream="my_delta_slot")
            self.assertFalse(refused["ok"])
            self.assertIsNotNone(confirmed_flush("my_delta_slot"))
        finally:
            sql("SELECT pg_drop_replication_slot('my_delta_slot')")

    def test_bad_requests_get_errors_and_change_nothing(self):
        before = sql("SELECT count(*) FROM pg_replication_slots")[0][0]
        cases = [
            (b"not json", "bad_request", "not valid JSON"),
            (b'{"op":"explode","id":"1"}', "bad_request", "unknown op"),
            (b'{"op":"attach","id":"1","stream":"delta_x; DROP TABLE t"}', "bad_request",
             "invalid stream name"),
            (b'{"op":"create","id":"1","stream":"Delta_Upper"}', "bad_request", "invalid stream name"),
            (b'{"op":"attach","id":"1","stream":"delta_nosuchstream"}', "no_such_stream",
             "no such stream"),
            (b'{"op":"ack","id":"1","stream":"delta_nosuchstream","lsn":"0/1"}', "bad_request",
             "needs \"epoch\""),
            (b'{"op":"ack","id":"1","stream":"delta_nosuchstream","lsn":"0/1","epoch":1}',
             "not_attached", "not attached"),
            (b'{"op":"detach","id":"1","stream":"delta_nosuchstream"}', "not_attached", "not attached"),
            (b'{"op":"drop","id":"1","stream":"delta_nosuchstream"}', "no_such_stream", "no such stream"),
            (b'{"op":"release","id":"1","stream":"delta_nosuchstream"}', "no_snapshot", "no snapshot"),
        ]
        for body, code, expected in cases:
            with self.subTest(body=body):
                reply = self.control.send_raw(body)
                self.assertFalse(reply["ok"])
                self.assertEqual(reply["code"], code)
                self.assertIn(expected, reply["error"])
        self.assertEqual(sql("SELECT count(*) FROM pg_replication_slots")[0][0], before)
        self.reader.alive()

    def test_an_idle_acknowledged_stream_does_not_hold_wal(self):
        stream = self.create()["stream"]
        self.control.ok("release", stream=stream)
        self.attach(stream)  # nothing delivered, so everything delivered is acknowledged
        if not sql("SELECT 1 FROM pg_database WHERE datname = 'deltastream_other'"):
            sql("CREATE DATABASE deltastream_other")
        other = psycopg2.connect(dsn().replace("dbname=postgres", "dbname=deltastream_other"))
        other.autocommit = True
        with other.cursor() as cur:
            cur.execute("SELECT pg_current_wal_lsn()::text")
            before = parse_lsn(cur.fetchone()[0])
            cur.execute("DROP TABLE IF EXISTS filler; CREATE TABLE filler (id int, pad text)")
            cur.execute("INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, 50000) g")
            cur.execute("SELECT pg_current_wal_lsn()::text")
            after = parse_lsn(cur.fetchone()[0])
        other.close()
        self.assertGreater(after - before, 50 << 20)
        # Nothing of that database reaches the stream, yet the slot follows the WAL.
        wait_until(lambda: confirmed_flush(stream) >= after - (1 << 20), timeout=30,
                   what="confirmed_flush_lsn to follow the WAL of another database")

    def test_status_reports_instance_and_postgres(self):
        status = self.control.ok("status")
        self.assertTrue(status["postgres"])
        self.assertEqual(status["pid"], self.reader.process.pid)
        self.assertTrue(status["instance"])
        # A restart is a new instance (tools tell a restarted reader by it), and so is a
        # second reader.
        self.reader.kill()
        self.reader.start()
        restarted = self.control.ok("status")
        self.assertEqual(restarted["pid"], self.reader.process.pid)
        self.assertNotEqual(restarted["instance"], status["instance"])

    def test_sigterm_sends_the_last_status_and_exits_zero(self):
        table = self.new_table("term_rows")
        stream = self.create()["stream"]
        self.reader.terminate()
        # A long status interval: only the shutdown path can report the ACK in time.
        self.reader.extra = ["--status-interval", "3600"]
        self.reader.start()
        self.control.close()
        self.control = Control(self.reader.control)
        sub, _ = self.attach(stream)
        sql(f"INSERT INTO {table} VALUES (1, 'z')")
        found = collect(sub, table, 1)
        self.control.ok("ack", stream=stream, lsn=format_lsn(found[0][2]["lsn"]),
                        epoch=found[0][2]["epoch"])
        self.assertEqual(self.reader.terminate(), 0)
        self.assertEqual(confirmed_flush(stream), found[0][2]["lsn"])
        self.reader.start()


class ReaderSettingsTest(unittest.TestCase):
    def run_reader(self, *args, env=None):
        binary = os.environ["DELTASTREAM_READER_BIN"]
        return subprocess.run([binary, *args], capture_output=True, text=True, timeout=30,
                              env={**os.environ, **(env or {})})

    def test_help_lists_every_setting(self):
        result = self.run_reader("--help")
        self.assertEqual(result.returncode, 0)
        for setting in ("--pg", "--control", "--publish", "DELTASTREAM_CONTROL",
                        "DELTASTREAM_PUBLISH", "--high-water-mark", "--status-interval",
                        "--snapshot-hold", "--log-level", "PGHOST", "DBNAME"):
            self.assertIn(setting, result.stdout)

    def test_bad_settings_end_the_process_naming_them(self):
        for args, env, named in [
            (["--control", "nonsense"], None, "--control"),
            (["--status-interval", "0"], None, "--status-interval"),
            (["--pg", "host='unterminated"], None, "--pg"),
            (["--log-level", "loud"], None, "--log-level"),
            ([], {"DELTASTREAM_PUBLISH": "tcp://256.0.0.1:1"}, "--publish"),
        ]:
            with self.subTest(args=args, env=env):
                result = self.run_reader(*args, env=env)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(named, result.stderr)


if __name__ == "__main__":
    unittest.main()

"""deltastream-tail against a real reader and PostgreSQL: at-least-once through a pipe
under SIGKILL, only written lines acknowledged, a reader restart mid-run, the lease, the
exit codes, observers, a closed stdout, --list, --create and --drop."""

import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from harness import ReaderCase, connect, format_lsn, parse_lsn, sql, wait_until

TAIL = os.environ.get("DELTASTREAM_TAIL_BIN")


class Tail:
    """deltastream-tail as a child process; its stdout goes to a file of its own."""

    def __init__(self, reader, *args, stdout=None, control=None):
        if not TAIL:
            raise RuntimeError("DELTASTREAM_TAIL_BIN is not set")
        self.out_path = tempfile.mktemp(prefix="tail-", suffix=".out")
        self.err = tempfile.NamedTemporaryFile(prefix="tail-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [TAIL, "--control", control or reader.control, "--publish", reader.publish, "--log-level", "debug", *args],
            stdout=stdout if stdout is not None else open(self.out_path, "wb"), stderr=self.err)

    def lines(self):
        """The complete lines written so far, parsed (a cut last line was never flushed)."""
        if not os.path.exists(self.out_path):
            return []
        with open(self.out_path, "rb") as f:
            data = f.read()
        return [json.loads(line) for line in data.split(b"\n")[:-1]]

    def log(self):
        with open(self.err.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait(self, timeout=30):
        return self.process.wait(timeout=timeout)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.unlink(self.err.name)


def ids(lines, table):
    return [row["columnvalues"][0] for line in lines for row in line["change"] if row["table"] == table]


class TailTest(ReaderCase):
    def setUp(self):
        super().setUp()
        self.tails = []

    def tearDown(self):
        for tail in self.tails:
            tail.close()
        super().tearDown()

    def tail(self, *args, **kwargs):
        tail = Tail(self.reader, *args, **kwargs)
        self.tails.append(tail)
        return tail

    def new_stream(self, table):
        sql(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY)")
        stream = self.control.ok("create")["stream"]
        self.streams.append(stream)
        self.control.ok("release", stream=stream)
        return stream

    def acked(self, stream):
        listed = {s["stream"]: s for s in self.control.ok("list")["streams"]}[stream]
        return parse_lsn(listed.get("acked_lsn") or listed["confirmed_flush_lsn"])

    def test_ack_under_sigkill_loses_no_row_and_acknowledges_only_written_lines(self):
        table, rows = "tail_kill_rows", 1500
        stream = self.new_stream(table)
        def write():
            conn = connect()
            conn.autocommit = True
            with conn.cursor() as cur:
                for i in range(1, rows + 1):
                    cur.execute(f"INSERT INTO {table} VALUES (%s)", (i,))
                    if i % 10 == 0:
                        time.sleep(0.05)  # about 6 s of commits, for the kills to fall among
            conn.close()
        writer = threading.Thread(target=write)
        writer.start()
        runs, samples = [], []
        chance = random.Random(int(os.environ.get("TAIL_KILL_SEED", time.time())))
        # Killed at random moments while the writer commits, each run with the same consumer
        # name (it re-attaches at once) and its output kept apart.
        while writer.is_alive() or len(runs) < 6:
            run = self.tail("--ack", "--consumer", "tail-test", stream)
            runs.append(run)
            time.sleep(chance.uniform(0.1, 1.0))  # the fault's schedule, not a synchronization
            run.process.kill()
            run.wait()
            # The reader's acknowledged position, then what was written: acknowledged
            # rows must be among the written ones (checked once every row's LSN is known).
            samples.append((self.acked(stream), [line for r in runs for line in r.lines()]))
        writer.join()
        last = self.tail("--ack", "--consumer", "tail-test", stream)
        runs.append(last)
        every_row = set(range(1, rows + 1))
        wait_until(lambda: every_row <= set(ids([line for r in runs for line in r.lines()], table)),
                   timeout=60, what="every row in the runs' output")
        # Every row may have been written by earlier runs: the last one must have started
        # (it holds the stream) before SIGTERM asks it to finish, or the signal kills it.
        wait_until(lambda: any(item["stream"] == stream and item.get("consumer")
                               for item in self.control.ok("list")["streams"]), what="the last run to attach")
        last.process.send_signal(signal.SIGTERM)
        self.assertEqual(last.wait(), 0, last.log())
        written = [line for r in runs for line in r.lines()]
        got = ids(written, table)
        self.assertEqual(set(got), every_row)  # duplicates allowed
        position = {row_id: parse_lsn(line["nextlsn"]) for line in written for row_id in ids([line], table)}
        for acked, seen in samples:
            acknowledged = {row_id for row_id, lsn in position.items() if lsn <= acked}
            self.assertFalse(acknowledged - set(ids(seen, table)),
                             f"rows acknowledged at {format_lsn(acked)} before their line was written")
        print(f"\n  {len(runs) - 1} kills, {len(got)} lines for {rows} rows ({len(got) - rows} again)")

    def test_a_reader_restart_mid_run_is_attached_to_again(self):
        table = "tail_restart_rows"
        stream = self.new_stream(table)
        tail = self.tail("--ack", stream)
        sql(f"INSERT INTO {table} VALUES (1)")
        wait_until(lambda: 1 in ids(tail.lines(), table), what="the row before the restart")
        self.reader.kill()
        self.reader.start()
        sql(f"INSERT INTO {table} VALUES (2)")
        wait_until(lambda: 2 in ids(tail.lines(), table), timeout=30, what="the row after the restart")
        self.assertIsNone(tail.process.poll(), tail.log())
        tail.process.send_signal(signal.SIGINT)
        self.assertEqual(tail.wait(), 0)

    def test_a_reader_gone_for_longer_than_give_up_after_is_exit_code_2(self):
        stream = self.new_stream("tail_gone_rows")
        tail = self.tail("--reader-timeout-ms", "500", "--give-up-after", "3", stream)
        wait_until(lambda: {s["stream"]: s for s in self.control.ok("list")["streams"]}[stream].get("streaming"),
                   what="the stream to stream")
        self.reader.kill()
        self.assertEqual(tail.wait(timeout=60), 2, tail.log())
        self.assertIn("did not answer for", tail.log())

    def test_the_lease_and_the_exit_codes(self):
        table = "tail_lease_rows"
        stream = self.new_stream(table)
        first = self.tail("--consumer", "first", stream)
        sql(f"INSERT INTO {table} VALUES (1)")
        wait_until(lambda: 1 in ids(first.lines(), table), what="the first consumer's row")
        # Another consumer waits once for the claim to lapse; renewed, it is refused: 4.
        second = self.tail("--consumer", "second", stream)
        self.assertEqual(second.wait(), 4, second.log())
        self.assertIn("--takeover", second.log())
        # --takeover replaces the first, which learns it and exits 4 too.
        third = self.tail("--consumer", "third", "--takeover", stream)
        try:
            first.wait()
        except subprocess.TimeoutExpired:
            pass
        self.assertEqual(first.process.poll(), 4, first.log() + "\n----\n" + third.log() + self.reader.output()[-5000:])
        self.assertIn("taken over", first.log())
        sql(f"INSERT INTO {table} VALUES (2)")
        wait_until(lambda: 2 in ids(third.lines(), table), what="the row through the new consumer")
        third.process.send_signal(signal.SIGTERM)
        self.assertEqual(third.wait(), 0)
        # No such stream: 3; a reader that does not answer: 2; a bad flag: 1.
        self.assertEqual(self.tail("delta_no_such_stream").wait(), 3)
        unreachable = self.tail("--reader-timeout-ms", "300", stream, control="tcp://127.0.0.1:9")
        self.assertEqual(unreachable.wait(), 2)
        self.assertIn("did not answer", unreachable.log())
        self.assertEqual(self.tail("--observe", "--ack", stream).wait(), 1)
        self.assertEqual(self.tail("not-a-stream").wait(), 1)

    def test_an_observer_sees_rows_and_acknowledges_nothing(self):
        table = "tail_observed_rows"
        stream = self.new_stream(table)
        consumer = self.tail(stream)  # a consumer that never ACKs keeps the stream streaming
        observer = self.tail("--observe", stream)
        # An observer watches live: until both have settled (the consumer's attach restarts
        # the stream, and the observer joins the new epoch), a row may pass it by. Settled
        # once the observer printed a marker row (-1, -2, ...) no older than the newest the
        # consumer printed: that one came in the consumer's epoch.
        marker = iter(range(-1, -1000, -1))
        def settled():
            sql(f"INSERT INTO {table} VALUES ({next(marker)})")
            seen, consumed = ids(observer.lines(), table), ids(consumer.lines(), table)
            return seen and consumed and min(seen) <= min(consumed)
        wait_until(settled, what="both to print a marker row of the same epoch")
        before = self.acked(stream)
        sql(f"INSERT INTO {table} VALUES (1)")
        wait_until(lambda: 1 in ids(observer.lines(), table), what="the row at the observer")
        wait_until(lambda: 1 in ids(consumer.lines(), table), what="the row at the consumer")
        self.assertEqual(self.acked(stream), before)
        observer.process.send_signal(signal.SIGTERM)
        self.assertEqual(observer.wait(), 0)

    def test_a_closed_stdout_ends_it_without_acknowledging_what_was_not_written(self):
        table = "tail_pipe_rows"
        stream = self.new_stream(table)
        tail = self.tail("--ack", stream, stdout=subprocess.PIPE)
        sql(f"INSERT INTO {table} VALUES (1)")
        first = json.loads(tail.process.stdout.readline())
        self.assertEqual(ids([first], table), [1])
        wait_until(lambda: self.acked(stream) >= parse_lsn(first["nextlsn"]), what="the first line's ACK")
        tail.process.stdout.close()  # as `| head -n 1` does
        unwritten_from = parse_lsn(sql("SELECT pg_current_wal_lsn()::text")[0][0])
        sql(f"INSERT INTO {table} VALUES (2)")
        self.assertEqual(tail.wait(), 0, tail.log())
        self.assertIn("stdout closed", tail.log())
        self.assertLessEqual(self.acked(stream), unwritten_from)  # row 2 ends past it

    def test_a_stalled_stdout_is_waited_for_without_attaching_again(self):
        # The pipe's reader stops reading for longer than the call timeout: the holds sent
        # before were answered meanwhile, so nothing is late and nothing restarts.
        table = "tail_stalled_rows"
        stream = self.new_stream(table)
        tail = self.tail("--ack", "--reader-timeout-ms", "1000", stream, stdout=subprocess.PIPE)
        sql(f"INSERT INTO {table} VALUES (0)")
        self.assertEqual(ids([json.loads(tail.process.stdout.readline())], table), [0])
        sql(f"DO $$ BEGIN FOR i IN 1..2000 LOOP INSERT INTO {table} VALUES (i); COMMIT; END LOOP; END $$")
        time.sleep(3)  # the stall (the fault), with the pipe full: not a synchronization
        seen = set()
        while len(seen) < 2000:
            line = tail.process.stdout.readline()
            self.assertTrue(line, tail.log())
            seen.update(ids([json.loads(line)], table))
        self.assertIsNone(tail.process.poll())
        self.assertNotIn("attaching again", tail.log())
        self.assertEqual(self.reader.output().count(f"{stream}: streaming from"), 1)
        tail.process.send_signal(signal.SIGTERM)
        self.assertEqual(tail.wait(), 0)

    def test_list_create_and_drop(self):
        create = self.tail("--create", "--count", "1")
        sql("DROP TABLE IF EXISTS tail_created_rows; CREATE TABLE tail_created_rows (id int)")
        stream = wait_until(lambda: next((line.split()[2].rstrip(",") for line in create.log().splitlines()
                                          if line.startswith("created stream ")), None), what="the created stream")
        self.streams.append(stream)
        self.assertRegex(create.log(), r"created stream delta_\w+, snapshot [0-9A-F-]+")
        sql("INSERT INTO tail_created_rows VALUES (7)")
        self.assertEqual(create.wait(), 0, create.log())
        self.assertEqual(ids(create.lines(), "tail_created_rows"), [7])
        listed = subprocess.run([TAIL, "--control", self.reader.control, "--list"], capture_output=True, check=True)
        entry = {s["stream"]: s for s in json.loads(listed.stdout)}[stream]
        self.assertIn("lag_bytes", entry)
        dropped = subprocess.run([TAIL, "--control", self.reader.control, "--drop", stream], capture_output=True)
        self.assertEqual(dropped.returncode, 0, dropped.stderr)
        self.assertFalse(sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (stream,)))
        again = subprocess.run([TAIL, "--control", self.reader.control, "--drop", stream], capture_output=True)
        self.assertEqual(again.returncode, 3, again.stderr)


if __name__ == "__main__":
    unittest.main()

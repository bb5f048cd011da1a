"""deltastream-jetstream against a real three-node JetStream cluster (nats_cluster.py) with
an R3 stream: every committed row reaches JetStream exactly once through SIGKILLs of the
output and the reader, a NATS node killed and restarted, and a PostgreSQL restart; and a
JetStream that refuses (a full stream, a lost quorum) stops the ACKs and loses nothing.
What is in JetStream is read back by a durable consumer (jetstream-read)."""

import collections
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import psycopg2

import jetstream_tool
from harness import Control, Reader, cluster, connect, drop_slots, parse_lsn, sql, wait_until
from nats_cluster import NatsCluster


class Output:
    """deltastream-jetstream as a child process."""

    def __init__(self, reader, servers, follow, *extra, env=None):
        self.env = env
        self.binary = os.environ.get("DELTASTREAM_JETSTREAM_BIN")
        if not self.binary:
            raise RuntimeError("DELTASTREAM_JETSTREAM_BIN is not set")
        self.args = [self.binary, "--follow", follow, "--nats-servers", servers,
                     "--control", reader.control, "--publish", reader.publish,
                     "--log-level", "debug", *map(str, extra)]
        self.log = tempfile.NamedTemporaryFile(prefix="jetstream-", suffix=".log", delete=False)
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(self.args, stdout=self.log, stderr=self.log, env=self.env)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout=30):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def alive(self):
        if self.process.poll() is not None:
            raise AssertionError(f"deltastream-jetstream exited with {self.process.returncode}:\n{self.output()}")
        return True

    def output(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def close(self):
        if self.process and self.process.poll() is None:
            self.kill()
        os.unlink(self.log.name)


class Writer(threading.Thread):
    """Commits numbered rows into a table, 1 to 4 a transaction, and goes on through a
    PostgreSQL restart (a commit whose answer was lost is settled by what the table holds)."""

    def __init__(self, table, pause=0.005):
        super().__init__(daemon=True)
        self.table = table
        self.pause = pause
        self.stopping = threading.Event()
        self.next_id = 1
        self.transactions = 0
        self.errors = 0

    def run(self):
        connection = None
        while not self.stopping.is_set():
            try:
                if connection is None:
                    connection = connect()
                size = 1 + self.transactions % 4
                ids = list(range(self.next_id, self.next_id + size))
                with connection.cursor() as cursor:
                    cursor.execute(f"INSERT INTO {self.table} (id, n) SELECT g, g FROM unnest(%s::int[]) g", (ids,))
                connection.commit()
                self.next_id += size
                self.transactions += 1
            except psycopg2.Error:
                # Committed or not, its ids are not used again: the table says which it holds.
                self.next_id += 4
                self.errors += 1
                connection = None
                time.sleep(0.2)
            time.sleep(self.pause)

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)


def slot_confirmed(slot):
    rows = sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s", (slot,))
    return parse_lsn(rows[0][0]) if rows else 0


def current_wal():
    return parse_lsn(sql("SELECT pg_current_wal_lsn()::text")[0][0])


def wait_acked(slot, position, output, timeout=90):
    """Until the slot's confirmed position reaches `position`: the output ACKed it, so
    JetStream stored everything up to it."""
    try:
        wait_until(lambda: output.alive() and slot_confirmed(slot) >= position, timeout=timeout,
                   what=f"{slot} acknowledged past {position:X}")
    except AssertionError as error:
        raise AssertionError(f"{error}; at {slot_confirmed(slot):X}\n{output.output()[-6000:]}") from None


def rows_by_id(messages, table):
    """id -> how many insert events JetStream holds for it."""
    counts = collections.Counter()
    for message in messages:
        event = json.loads(message["data"])
        if event.get("op") == "insert" and event.get("table") == table:
            counts[event["new"]["id"]] += 1
    return counts


class JetStreamCase(unittest.TestCase):
    """One three-node cluster for the module's tests; each test has its own reader, table,
    v2 stream, JetStream stream and subject prefix."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="nats-cluster-")
        cls.nats = NatsCluster(cls.workdir)
        cls.nats.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.nats.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def setUp(self):
        for i in range(self.nats.size):
            if i not in self.nats.running():
                self.nats.start(i)
        self.nats.wait_ready()
        self.reader = Reader("--status-interval", "1")
        self.control = Control(self.reader.control)
        self.outputs = []
        self.name = self.id().split(".")[-1].replace("test_", "js_")[:30]
        self.slot = "delta_v2_" + self.name
        self.table = self.name + "_rows"
        sql(f"DROP TABLE IF EXISTS {self.table}")
        sql(f"CREATE TABLE {self.table} (id int PRIMARY KEY, n int)")
        self.control.ok("create", stream=self.slot, tables=[{"table": self.table}])

    def tearDown(self):
        for output in self.outputs:
            output.close()
        try:
            self.control.request("drop", stream=self.slot)
        except Exception:
            pass
        self.control.close()
        self.reader.close()
        drop_slots("slot_name = %s", (self.slot,))
        sql(f"DROP TABLE IF EXISTS {self.table}")

    def output(self, *extra):
        output = Output(self.reader, self.nats.servers, self.name, "--js-stream", self.name.upper(),
                        "--subject-prefix", self.name, *extra)
        self.outputs.append(output)
        return output

    def stream_leader(self):
        """The node that leads the R3 stream (it has one once the stream took a message)."""
        leader = {}
        wait_until(lambda: leader.update(jetstream_tool.info(self.nats.servers, self.name.upper())) or leader["leader"],
                   what="the stream's leader")
        return self.nats.index(leader["leader"])

    def read_all(self, durable="check"):
        return jetstream_tool.read(self.nats.servers, self.name.upper(), durable, "--idle-ms", 3000)

    def assert_every_row_once(self, messages):
        expected = {row[0] for row in sql(f"SELECT id FROM {self.table}")}
        counts = rows_by_id(messages, "public." + self.table)
        missing = sorted(expected - counts.keys())
        twice = sorted(i for i, count in counts.items() if count > 1)
        self.assertEqual(missing, [], f"{len(missing)} committed rows are not in JetStream")
        self.assertEqual(twice, [], f"{len(twice)} rows are in JetStream more than once")
        self.assertEqual(set(counts), expected)
        # Each transaction: its begin and its commit, once, on ._tx.
        markers = collections.Counter()
        for message in messages:
            if message["subject"] == f"{self.name}.{self.name}._tx":
                event = json.loads(message["data"])
                markers[(event["op"], event["xid"])] += 1
        begins = {xid for (op, xid) in markers if op == "begin"}
        commits = {xid for (op, xid) in markers if op == "commit"}
        self.assertEqual(begins, commits)
        self.assertEqual([key for key, count in markers.items() if count > 1], [])
        return expected


class FaultsTest(JetStreamCase):
    def test_every_row_once_through_faults(self):
        output = self.output("--js-replicas", 3, "--max-in-flight", 256, "--ack-timeout-ms", 2000)
        writer = Writer(self.table)
        writer.start()
        try:
            def written_past(count):
                wait_until(lambda: writer.transactions >= count, timeout=60, what=f"{count} transactions")

            written_past(100)
            wait_acked(self.slot, 1, output)
            # 1. The output, killed in the middle of publishing, and started again.
            output.kill()
            written_past(writer.transactions + 50)
            output.start()
            # 2. The reader, killed and started again.
            written_past(writer.transactions + 50)
            self.reader.kill()
            self.reader.start()
            # 3. The R3 stream's leader node, killed while the writer goes on, and restarted.
            written_past(writer.transactions + 50)
            victim = self.stream_leader()
            self.nats.kill(victim)
            written_past(writer.transactions + 100)
            self.nats.start(victim)
            self.nats.wait_ready()
            # 4. PostgreSQL, restarted under the writer, the reader and the output.
            written_past(writer.transactions + 50)
            cluster("restart")
            written_past(writer.transactions + 100)
        finally:
            writer.stop()
        # Everything committed is ACKed in the end: JetStream stored it all.
        wait_acked(self.slot, current_wal(), output, timeout=120)
        messages = self.read_all()
        expected = self.assert_every_row_once(messages)
        self.assertGreater(len(expected), 400)
        self.assertGreaterEqual(writer.errors, 1, "the PostgreSQL restart did not reach the writer")
        log = output.output()
        # The faults were seen, not slept through: the output started again after each.
        self.assertIn("following as", log)
        print(f"\n{len(expected)} rows in {writer.transactions} transactions, {len(messages)} JetStream "
              f"messages; writer errors {writer.errors}")
        self.assertEqual(output.terminate(), 0, output.output())


class RefusalTest(JetStreamCase):
    def test_full_stream_stops_acks_and_loses_nothing(self):
        # Room for 5 one-row transactions (begin, row, commit) and part of the sixth.
        output = self.output("--js-replicas", 3, "--js-max-messages", 17)
        for i in range(1, 6):
            sql(f"INSERT INTO {self.table} VALUES (%s, %s)", (i, i))
        wait_acked(self.slot, current_wal(), output)
        sql(f"INSERT INTO {self.table} VALUES (6, 6)")
        refused_at = current_wal()
        wait_until(lambda: output.alive() and "maximum messages exceeded" in output.output(), timeout=30,
                   what="JetStream's refusal in the log")
        self.assertLess(slot_confirmed(self.slot), refused_at, "a transaction JetStream refused was ACKed")
        info = jetstream_tool.info(self.nats.servers, self.name.upper())
        self.assertEqual(info["messages"], 17)
        # Room again: the output's next attempt stores the rest, and nothing twice.
        jetstream_tool.ok(self.nats.servers, "--stream", self.name.upper(), "--update-max-msgs", -1)
        sql(f"INSERT INTO {self.table} VALUES (7, 7)")
        wait_acked(self.slot, current_wal(), output, timeout=60)
        self.assertEqual(self.assert_every_row_once(self.read_all()), set(range(1, 8)))

    def test_lost_quorum_stops_acks_and_loses_nothing(self):
        output = self.output("--js-replicas", 3, "--ack-timeout-ms", 1000)
        sql(f"INSERT INTO {self.table} VALUES (1, 1)")
        wait_acked(self.slot, current_wal(), output)
        survivor = self.stream_leader()
        lost = [i for i in range(self.nats.size) if i != survivor]
        for i in lost:
            self.nats.kill(i)
        sql(f"INSERT INTO {self.table} SELECT g, g FROM generate_series(2, 50) g")
        refused_at = current_wal()
        wait_until(lambda: output.alive() and "nothing after the last stored transaction" in output.output(),
                   timeout=30, what="the output's failure in the log")
        self.assertLess(slot_confirmed(self.slot), refused_at, "a transaction without quorum was ACKed")
        for i in lost:
            self.nats.start(i)
        self.nats.wait_ready()
        sql(f"INSERT INTO {self.table} VALUES (51, 51)")
        wait_acked(self.slot, current_wal(), output, timeout=90)
        self.assertEqual(self.assert_every_row_once(self.read_all()), set(range(1, 52)))


if __name__ == "__main__":
    unittest.main()

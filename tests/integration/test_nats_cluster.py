"""The NATS test kit against a real 3-node JetStream cluster: nats_cluster.py (start,
kill, restart, wait_ready) and jetstream-read (durable reads that resume, deduplicated
publishes, JSON escaping, exit codes), including a node killed under a reader and a
publisher. No PostgreSQL: this proves the kit the deltastream-jetstream tests stand on."""

import shutil
import tempfile
import time
import unittest

import jetstream_tool as js
from nats_cluster import NatsCluster, free_ports

STREAM = "ORDERS"


class NatsClusterTest(unittest.TestCase):
    def setUp(self):
        # Cleanups, not tearDown: they also run when setUp itself fails half-way.
        self.workdir = tempfile.mkdtemp(prefix="nats-cluster-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        self.cluster = NatsCluster(self.workdir)
        self.addCleanup(self.cluster.stop)
        self.ready_seconds = self.cluster.wait_ready()
        self.servers = self.cluster.servers
        js.create_stream(self.servers, STREAM, ["a.>", "b.>"])

    def servers_from(self, first):
        """The cluster's URLs with node `first`'s in front: jetstream-read connects to it."""
        urls = self.cluster.urls
        return ",".join([urls[first]] + [u for i, u in enumerate(urls) if i != first])

    def assert_messages(self, lines, seqs):
        """Messages m-<seq> on a.x, published in order by js.publish(..., "m-")."""
        self.assertEqual([(line["stream_seq"], line["subject"], line["data"], line["headers"]["Nats-Msg-Id"])
                          for line in lines],
                         [(seq, "a.x", f"m-{seq}", f"m-{seq}") for seq in seqs])

    def test_a_durable_consumer_resumes_after_its_last_acknowledged_message(self):
        stream = js.info(self.servers, STREAM)
        self.assertEqual((stream["replicas"], stream["subjects"], stream["messages"]), (3, ["a.>", "b.>"], 0))
        self.assertIn(stream["leader"], ["n1", "n2", "n3"])
        acks = js.publish(self.servers, STREAM, "a.x", 100, "m-")
        self.assertEqual([(a["msg_id"], a["seq"], a["duplicate"]) for a in acks],
                         [(f"m-{i}", i, False) for i in range(1, 101)])

        self.assert_messages(js.read(self.servers, STREAM, "d1", "--max", 40), range(1, 41))
        rest = js.ok(self.servers, "--stream", STREAM, "--durable", "d1", "--idle-ms", 1000)
        self.assert_messages(rest.lines, range(41, 101))
        self.assertEqual(js.read(self.servers, STREAM, "d1", "--idle-ms", 300), [])
        # --no-ack leaves the position where it was; another durable starts from the top.
        self.assertEqual(len(js.read(self.servers, STREAM, "d2", "--max", 5, "--no-ack")), 5)
        self.assert_messages(js.read(self.servers, STREAM, "d2", "--max", 3), range(1, 4))
        filtered = js.read(self.servers, STREAM, "only_b", "--filter", "b.>", "--idle-ms", 300)
        self.assertEqual(filtered, [])
        print(f"\n  cluster ready in {self.ready_seconds:.2f}s; 60 messages read in {rest.seconds:.2f}s "
              f"(1 s of it idle)")

    def test_a_repeated_message_id_is_stored_once(self):
        js.publish(self.servers, STREAM, "a.x", 10, "m-")
        again = js.publish(self.servers, STREAM, "a.x", 10, "m-", "--first", 5)
        self.assertEqual([(a["msg_id"], a["seq"], a["duplicate"]) for a in again],
                         [(f"m-{i}", i, i <= 10) for i in range(5, 15)])
        stream = js.info(self.servers, STREAM)
        self.assertEqual((stream["messages"], stream["first_seq"], stream["last_seq"]), (14, 1, 14))
        self.assert_messages(js.read(self.servers, STREAM, "d1", "--idle-ms", 300), range(1, 15))

    def test_payloads_and_headers_come_out_as_json_strings(self):
        payload = 'quote " backslash \\ newline \n tab \t bell \x07 del \x7f é 日本 🐘'
        js.publish(self.servers, STREAM, "b.tricky", 1, "t-", "--data", payload,
                   "--header", "Deltastream-Lsn:0/16B3748", "--header", "Deltastream-Xid:742")
        result = js.ok(self.servers, "--stream", STREAM, "--durable", "d1", "--idle-ms", 300)
        self.assertEqual(result.stdout.count(b"\n"), 1)  # the newline is escaped
        self.assertIn("é 日本 🐘".encode(), result.stdout)  # UTF-8 passed through, not \u-escaped
        [line] = result.lines
        self.assertEqual(line, {"subject": "b.tricky", "stream_seq": 1, "data": payload,
                                "headers": {"Nats-Msg-Id": "t-1", "Deltastream-Lsn": "0/16B3748",
                                            "Deltastream-Xid": "742"}})

    def test_exit_codes(self):
        missing = js.run(self.servers, "--stream", "MISSING", "--info")
        self.assertEqual(missing.returncode, js.NO_STREAM, missing)
        self.assertIn("does not exist", missing.stderr)
        missing = js.run(self.servers, "--stream", "MISSING", "--durable", "d1")
        self.assertEqual(missing.returncode, js.NO_STREAM, missing)
        nobody = f"nats://127.0.0.1:{free_ports(1)[0]}"  # connection refused at once
        unreachable = js.run(nobody, "--stream", STREAM, "--info", "--error-budget-ms", 500)
        self.assertEqual(unreachable.returncode, js.UNREACHABLE, unreachable)
        usage = js.run(self.servers, "--stream", STREAM, "--info", "--max", 3)
        self.assertEqual(usage.returncode, js.FAILURE, usage)
        # A stream of another config under the same name is refused, the same one is fine.
        js.create_stream(self.servers, STREAM, ["a.>", "b.>"])
        clash = js.run(self.servers, "--stream", STREAM, "--create-stream", "--subjects", "c.>", "--replicas", 3)
        self.assertEqual(clash.returncode, js.REJECTED, clash)
        # At its limit, a discard-new stream refuses the publish.
        js.create_stream(self.servers, "SMALL", ["small.>"], 3, ["--max-msgs", 3, "--discard-new"])
        full = js.run(self.servers, "--stream", "SMALL", "--publish", "small.x", "--count", 4, "--msg-id-prefix", "s-")
        self.assertEqual((full.returncode, len(full.lines)), (js.REJECTED, 3), full)
        self.assertEqual(js.info(self.servers, "SMALL")["messages"], 3)
        # Lifted, the limit lets the refused message in (its id was never stored).
        js.ok(self.servers, "--stream", "SMALL", "--update-max-msgs", -1)
        [ack] = js.publish(self.servers, "SMALL", "small.x", 1, "s-", "--first", 4)
        self.assertEqual((ack["seq"], ack["duplicate"]), (4, False))
        missing = js.run(self.servers, "--stream", "MISSING", "--update-max-msgs", 5)
        self.assertEqual(missing.returncode, js.NO_STREAM, missing)

    def test_two_nodes_of_three_keep_publishing_and_reading(self):
        js.publish(self.servers, STREAM, "a.x", 100, "m-")
        self.assert_messages(js.read(self.servers, STREAM, "d1", "--max", 40), range(1, 41))
        self.assert_messages(js.read(self.servers, STREAM, "d2", "--max", 1), [1])
        leader = self.cluster.index(js.info(self.servers, STREAM)["leader"])
        through_victim = self.servers_from(leader)
        killed = time.monotonic()
        self.cluster.kill(leader)
        # Connected to the killed node first, with an idle time shorter than the election:
        # the reader must wait for the new leaders rather than stop early, while the
        # publisher retries with the same message ids.
        reader = js.start(through_victim, "--stream", STREAM, "--durable", "d2", "--idle-ms", 1000)
        acks = js.publish(through_victim, STREAM, "a.x", 10, "k-")
        publish_seconds = time.monotonic() - killed
        self.assertEqual([(a["seq"], a["duplicate"]) for a in acks], [(seq, False) for seq in range(101, 111)])
        background = js.finish(reader)
        self.assertEqual(background.returncode, 0, background)
        seen = [line["stream_seq"] for line in background.lines]
        self.assertEqual(seen[:99], list(range(2, 101)), background)  # and k-1... if published in time
        seen += [line["stream_seq"] for line in js.read(self.servers, STREAM, "d2", "--idle-ms", 500)]
        self.assertEqual(sorted(set(seen)), list(range(2, 111)))  # at least once
        lines = js.read(through_victim, STREAM, "d1", "--idle-ms", 500)
        self.assert_messages(lines[:60], range(41, 101))
        self.assertEqual([(line["stream_seq"], line["data"]) for line in lines[60:]],
                         [(100 + i, f"k-{i}") for i in range(1, 11)])
        stream = js.info(self.servers, STREAM)
        self.assertEqual(stream["messages"], 110)
        self.assertNotEqual(stream["leader"], self.cluster.name(leader))

        restarted = time.monotonic()
        self.cluster.start(leader)
        rejoin_seconds = self.cluster.wait_ready()
        # The restarted node answers for the stream, and a read through it resumes.
        self.assertEqual(js.info(self.cluster.url(leader), STREAM)["messages"], 110)
        js.publish(self.servers, STREAM, "a.x", 1, "r-")
        [line] = js.read(self.cluster.url(leader), STREAM, "d1", "--idle-ms", 500)
        self.assertEqual((line["stream_seq"], line["data"]), (111, "r-1"))
        print(f"\n  first publish after killing the stream leader: {publish_seconds:.2f}s; reader "
              f"through the kill: {background.seconds:.2f}s, {len(seen) - 109} twice; rejoined in "
              f"{time.monotonic() - restarted:.2f}s (wait_ready {rejoin_seconds:.2f}s)")


if __name__ == "__main__":
    unittest.main()

"""What deltastream-jetstream publishes, read back from a three-node cluster: a row stream's
subjects, ids and headers (a large transaction in pieces included), a v1 stream's one
message a transaction, NATS credentials, and settings it refuses."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import jetstream_tool
from harness import drop_slots, free_port, sql
from test_jetstream import JetStreamCase, Output, current_wal, wait_acked


class RowStreamMessagesTest(JetStreamCase):
    def test_subjects_ids_and_headers(self):
        output = self.output()
        sql(f"INSERT INTO {self.table} VALUES (1, 1), (2, 2)")
        sql(f"UPDATE {self.table} SET n = 10 WHERE id = 1")
        sql(f"DELETE FROM {self.table} WHERE id = 2")
        sql(f"TRUNCATE {self.table}")
        # 20,000 rows: more than one piece from the reader (256 KiB each by default).
        sql(f"INSERT INTO {self.table} SELECT g, g FROM generate_series(100, 20099) g")
        wait_acked(self.slot, current_wal(), output)
        messages = self.read_all()
        rows_subject = f"{self.name}.{self.name}.public.{self.table}"
        tx_subject = f"{self.name}.{self.name}._tx"
        self.assertEqual({m["subject"] for m in messages}, {rows_subject, tx_subject})
        events = [json.loads(m["data"]) for m in messages]
        self.assertEqual([e["op"] for e in events[:15]],
                         ["begin", "insert", "insert", "commit", "begin", "update", "commit",
                          "begin", "delete", "commit", "begin", "truncate", "commit", "begin", "insert"])
        self.assertEqual(events[11], {"op": "truncate", "tables": [f"public.{self.table}"]})
        by_transaction = {}
        for message, event in zip(messages, events):
            headers = message["headers"]
            self.assertEqual(message["subject"], tx_subject if event["op"] in ("begin", "commit") else rows_subject)
            by_transaction.setdefault(headers["Deltastream-Lsn"], []).append((message, event))
        self.assertEqual(len(by_transaction), 5)
        for commit_lsn, members in by_transaction.items():
            begin = members[0][1]
            self.assertEqual(begin["op"], "begin")
            self.assertEqual(begin["commit_lsn"], commit_lsn)
            self.assertEqual(members[-1][1]["op"], "commit")
            for index, (message, _) in enumerate(members):
                headers = message["headers"]
                # The id a replay gets again: slot, commit LSN, index in the transaction.
                self.assertEqual(headers["Nats-Msg-Id"], f"{self.slot}:{commit_lsn}:{index}")
                self.assertEqual(headers["Deltastream-Xid"], str(begin["xid"]))
        big = by_transaction[events[13]["commit_lsn"]]
        self.assertEqual(len(big), 20002)
        self.assertEqual([e["new"]["id"] for _, e in big[1:-1]], list(range(100, 20100)))
        self.assertEqual(big[-1][1]["changes"], 20000)
        self.assertEqual(output.terminate(), 0, output.output())

    def test_v1_stream_is_a_message_a_transaction(self):
        slot = self.control.ok("create")["stream"]
        self.addCleanup(drop_slots, "slot_name = %s", (slot,))
        output = Output(self.reader, self.nats.servers, slot, "--js-stream", "V1CHECK", "--subject-prefix", "v1check")
        self.outputs.append(output)
        sql(f"INSERT INTO {self.table} VALUES (1, 1), (2, 2)")
        sql(f"INSERT INTO {self.table} VALUES (3, 3)")
        wait_acked(slot, current_wal(), output)
        messages = jetstream_tool.read(self.nats.servers, "V1CHECK", "check", "--idle-ms", 3000)
        mine = [m for m in messages if f'"table":"{self.table}"' in m["data"].replace(" ", "")]
        self.assertEqual(len(mine), 2, messages)
        for message in messages:
            self.assertEqual(message["subject"], f"v1check.{slot}")
            body = json.loads(message["data"])
            self.assertEqual(message["headers"]["Nats-Msg-Id"], f"{slot}:{body['nextlsn']}:0")
            self.assertEqual(message["headers"]["Deltastream-Lsn"], body["nextlsn"])
            self.assertNotIn("Deltastream-Xid", message["headers"])
        values = [[c["columnvalues"][0] for c in json.loads(m["data"])["change"]] for m in mine]
        self.assertEqual(values, [[1, 2], [3]])


class CredentialsTest(JetStreamCase):
    def test_user_and_password(self):
        store = tempfile.mkdtemp(prefix="nats-auth-")
        self.addCleanup(shutil.rmtree, store, True)
        port = free_port()
        server = subprocess.Popen([self.nats.binary, "-js", "-sd", store, "-a", "127.0.0.1", "-p", str(port),
                                   "--user", "deltastream", "--pass", "s3cret-pass"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(server.wait)
        self.addCleanup(server.send_signal, signal.SIGTERM)
        url = f"nats://127.0.0.1:{port}"
        sql(f"INSERT INTO {self.table} VALUES (1, 1)")
        committed = current_wal()
        # The password from the environment, where ps does not show it.
        env = dict(os.environ, DELTASTREAM_NATS_USER="deltastream", DELTASTREAM_NATS_PASSWORD="s3cret-pass")
        right = Output(self.reader, url, self.name, env=env)
        self.outputs.append(right)
        wait_acked(self.slot, committed, right)


class SettingsTest(unittest.TestCase):
    def refused(self, *args):
        binary = os.environ["DELTASTREAM_JETSTREAM_BIN"]
        result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 1, result)
        return result.stderr

    def test_bad_settings_are_named(self):
        self.assertIn("--follow", self.refused("--follow", "Not A Name"))
        self.assertIn("--subject-prefix", self.refused("--follow", "orders", "--subject-prefix", "acme.>"))
        self.assertIn("--nats-tls-key", self.refused("--follow", "orders", "--nats-tls-cert", "/etc/hostname"))
        self.assertIn("--js-stream", self.refused("--follow", "orders", "--js-stream", "a.b"))
        self.assertIn("--js-replicas", self.refused("--follow", "orders", "--js-replicas", "7"))
        self.assertIn("--follow", self.refused())


if __name__ == "__main__":
    unittest.main()

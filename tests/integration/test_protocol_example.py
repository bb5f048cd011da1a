"""proto/PROTOCOL.md's Python example, run as it is printed (only the endpoints replaced by
the test reader's), so that it can never go stale: it creates a stream, prints every
change committed after it, and ACKs each one."""

import os
import re
import subprocess
import sys
import unittest

from harness import drop_slots, Control, Reader, parse_lsn, sql, wait_until

PROTOCOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto", "PROTOCOL.md")


def example():
    with open(PROTOCOL, encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    (code,) = [block for block in blocks if 'op="create"' in block]
    return code


class ProtocolExampleTest(unittest.TestCase):
    def test_the_example_prints_and_acks_every_change(self):
        sql("DROP TABLE IF EXISTS example_rows; CREATE TABLE example_rows (id int PRIMARY KEY)")
        streams = []  # the example's, dropped last (cleanups run last first)
        self.addCleanup(lambda: streams and drop_slots("slot_name = %s", (streams[0],)))
        reader = Reader()
        self.addCleanup(reader.close)
        code = example().replace("tcp://127.0.0.1:5590", reader.control)
        code = code.replace("tcp://127.0.0.1:5591", reader.publish)
        tool = subprocess.Popen([sys.executable, "-u", "-c", code], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        self.addCleanup(tool.wait)
        self.addCleanup(tool.kill)
        # The example created its stream: wait until it streams, then commit.
        stream = wait_until(lambda: [s["stream"] for s in reader_streams(reader) if s["attached"]],
                            what="the example to attach")[0]
        streams.append(stream)
        for i in range(1, 4):
            sql("INSERT INTO example_rows VALUES (%s)", (i,))
        lines = []
        while len(lines) < 3:
            line = tool.stdout.readline()
            self.assertTrue(line, f"the example ended: {lines}")
            if "example_rows" in line:
                lines.append(line)
        # "seq nextlsn [changes]": each row once, in order, each then ACKed.
        self.assertEqual([re.search(r"'columnvalues': \[(\d+)\]", line).group(1) for line in lines],
                         ["1", "2", "3"])
        last = parse_lsn(lines[-1].split()[1])
        wait_until(lambda: parse_lsn(sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
                                         "WHERE slot_name = %s", (stream,))[0][0]) >= last,
                   what="the example's ACKs to reach PostgreSQL")
        tool.kill()


def reader_streams(reader):
    with Control(reader.control) as control:
        return control.ok("list")["streams"]


if __name__ == "__main__":
    unittest.main()

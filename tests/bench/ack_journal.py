"""What --ack-journal costs, on demand: the reader without and with the journal, in
alternated rounds, on a throwaway PostgreSQL. For each: the reader's CPU per 1,000 ACKs
(a consumer that ACKs every message of 2,000 single-row transactions), the ACK's round
trip, and how long PostgreSQL takes to confirm an ACK (ACK sent until
confirmed_flush_lsn reaches it). The floor is the durable write itself: write, fsync,
rename and fsync of the directory, timed in the journal's own directory. The other way
to keep ACKs across a PostgreSQL crash, a CHECKPOINT (which writes every slot), is timed
beside it. PostgreSQL runs with fsync on here, as in production.

  python3 tests/bench/ack_journal.py --reader-bin build-bench/reader/deltastream-reader
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time

import zmq

from stack import Child, Control, Postgres, free_port, parse_lsn, wait_until

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TABLE = "ack_journal_bench"
DATA, STREAM_END, HEARTBEAT = 1, 3, 2


def format_lsn(value):
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Round:
    """One reader, one stream, one consumer that ACKs every message over the control socket."""

    def __init__(self, pg, reader_bin, journal, log_dir):
        self.pg = pg
        control_url = f"tcp://127.0.0.1:{free_port()}"
        publish_url = f"tcp://127.0.0.1:{free_port()}"
        args = [reader_bin, "--pg", pg.dsn, "--control", control_url, "--publish", publish_url,
                "--log-level", "info"] + (["--ack-journal", journal] if journal else [])
        self.reader = Child("reader-journal" if journal else "reader", args, log_dir)
        self.control = Control(control_url)
        wait_until(lambda: self.reader.alive() and self.control.try_request("status"), 15, "reader start")
        self.stream = self.control.ok("create")["stream"]
        self.control.ok("release", stream=self.stream)
        self.sub = zmq.Context.instance().socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, self.stream.encode() + b"\0")
        self.sub.connect(publish_url)
        self.epoch = self.control.ok("attach", stream=self.stream)["epoch"]

    def next_data(self):
        while True:
            if not self.sub.poll(30_000):
                raise TimeoutError("no message within 30 s")
            _, header, _ = self.sub.recv_multipart()
            if header[1] == DATA:
                return int.from_bytes(header[18:26], "big")
            if header[1] == STREAM_END:
                raise RuntimeError("the stream ended")

    def ack(self, position):
        self.control.ok("ack", stream=self.stream, lsn=format_lsn(position), epoch=self.epoch)

    def measure(self, transactions, confirm_samples):
        for i in range(transactions):
            self.pg.sql(f"INSERT INTO {TABLE} VALUES (%s)", (i,))
        cpu = self.reader.cpu()
        round_trips = []
        for _ in range(transactions):
            position = self.next_data()
            started = time.perf_counter()
            self.ack(position)
            round_trips.append(time.perf_counter() - started)
        cpu_per_1000 = (self.reader.cpu() - cpu) / transactions * 1000
        confirms = []
        for i in range(confirm_samples):
            self.pg.sql(f"INSERT INTO {TABLE} VALUES (%s)", (transactions + i,))
            position = self.next_data()
            started = time.perf_counter()
            self.ack(position)
            while parse_lsn(self.pg.confirmed(self.stream)) < position:
                time.sleep(0.0002)
            confirms.append(time.perf_counter() - started)
        return cpu_per_1000, round_trips, confirms

    def close(self):
        self.sub.close()
        self.control.ok("drop", stream=self.stream)
        self.control.close()
        self.reader.stop()


def durable_write_floor(directory, count):
    """Seconds of one journal-sized durable replace: write, fsync, rename, fsync the directory."""
    path = os.path.join(directory, "floor")
    times = []
    for i in range(count):
        started = time.perf_counter()
        fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, b"deltastream acknowledged positions v1\ndelta_bench %d 0/%X\n" % (i, i))
        os.fsync(fd)
        os.close(fd)
        os.rename(path + ".new", path)
        dir_fd = os.open(directory, os.O_RDONLY)
        os.fsync(dir_fd)
        os.close(dir_fd)
        times.append(time.perf_counter() - started)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reader-bin", required=True)
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--confirm-samples", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="deltastream-ack-journal-")
    cluster = os.path.join(work, "pg")
    os.makedirs(cluster)
    os.chmod(work, 0o755)
    os.chmod(cluster, 0o755)
    local_postgres = os.path.join(ROOT, "deploy", "local-postgres.sh")
    subprocess.run([local_postgres, cluster, "start"], check=True)
    try:
        pg = Postgres(cluster)
        pg.sql(f"DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (id int)")
        results = {False: [], True: []}
        for _ in range(args.rounds):
            for journaled in (False, True):
                journal = os.path.join(work, "acknowledged") if journaled else None
                one = Round(pg, args.reader_bin, journal, work)
                try:
                    results[journaled].append(one.measure(args.transactions, args.confirm_samples))
                finally:
                    one.close()
                pg.sql(f"TRUNCATE {TABLE}")
        floor = durable_write_floor(work, args.confirm_samples)
        checkpoints = []
        for i in range(20):
            pg.sql(f"INSERT INTO {TABLE} VALUES (%s)", (i,))
            started = time.perf_counter()
            pg.sql("CHECKPOINT")
            checkpoints.append(time.perf_counter() - started)
    finally:
        subprocess.run([local_postgres, cluster, "stop"], check=False)

    print(f"ACK cost, {args.rounds} rounds of {args.transactions} ACKed single-row transactions "
          f"and {args.confirm_samples} timed confirmations (median of rounds):")
    print(f"{'':24}{'reader CPU ms/1000 ACKs':>24}{'ACK round trip p50/p99 ms':>28}"
          f"{'ACK to confirmed p50/p99 ms':>30}")
    medians = {}
    for journaled in (False, True):
        cpu = statistics.median(r[0] for r in results[journaled])
        trips = [t for r in results[journaled] for t in r[1]]
        confirms = [t for r in results[journaled] for t in r[2]]
        medians[journaled] = (cpu, percentile(confirms, 0.5))
        label = "with --ack-journal" if journaled else "without"
        print(f"{label:24}{cpu * 1000:>24.1f}"
              f"{percentile(trips, 0.5) * 1000:>16.3f} / {percentile(trips, 0.99) * 1000:<9.3f}"
              f"{percentile(confirms, 0.5) * 1000:>18.2f} / {percentile(confirms, 0.99) * 1000:<9.2f}")
    print(f"{'floor: durable write':24}{'':24}{'':28}"
          f"{percentile(floor, 0.5) * 1000:>18.2f} / {percentile(floor, 0.99) * 1000:<9.2f}")
    print(f"{'other way: CHECKPOINT':24}{'':24}{'':28}"
          f"{percentile(checkpoints, 0.5) * 1000:>18.2f} / {percentile(checkpoints, 0.99) * 1000:<9.2f}")
    print(f"ratios: CPU with/without {medians[True][0] / medians[False][0]:.2f}; "
          f"confirmation with/without {medians[True][1] / medians[False][1]:.2f}; "
          f"confirmation with journal / durable write floor "
          f"{medians[True][1] / percentile(floor, 0.5):.2f}")


if __name__ == "__main__":
    main()

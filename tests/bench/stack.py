"""The processes under test and what the benchmark reads about them: the throwaway
PostgreSQL (its DSN, slots, walsenders), deltastream-reader and deltastream-gateway as
child processes on free ports, and CPU time and memory from /proc."""

import os
import socket
import subprocess
import sys
import time

import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Control, free_port  # noqa: E402  (the DEALER client of proto/PROTOCOL.md)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process: fields 14 and 15 of /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after "(comm)", field 3 is fields[0]
    return (int(fields[11]) + int(fields[12])) / TICKS


def status_kib(pid, key):
    """A line of /proc/PID/status in KiB: VmRSS (now) or VmHWM (peak)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} for pid {pid}")


def peak_mib(pid):
    """VmHWM in MiB, or None when the process is gone or exiting."""
    try:
        return status_kib(pid, "VmHWM") / 1024 if pid else None
    except (OSError, RuntimeError):
        return None


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Postgres:
    """The cluster deploy/local-postgres.sh started: SQL helpers and its postmaster."""

    def __init__(self, cluster_dir):
        self.dir = cluster_dir
        with open(os.path.join(cluster_dir, "dsn")) as f:
            self.dsn = f.read().strip()
        self.conn = psycopg2.connect(self.dsn)
        self.conn.autocommit = True

    def sql(self, query, params=None):
        with self.conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else None

    def value(self, query, params=None):
        return self.sql(query, params)[0][0]

    def walsender(self, slot):
        """PID of the walsender streaming `slot`, or None."""
        rows = self.sql("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (slot,))
        return rows[0][0] if rows else None

    def create_slot(self, slot, plugin="wal2json"):
        """A fresh slot (one a failed section left behind is dropped first)."""
        self.sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                 "WHERE slot_name = %s AND NOT active", (slot,))
        self.sql("SELECT pg_create_logical_replication_slot(%s, %s)", (slot, plugin))

    def unix_dsn(self):
        """The same server over its Unix socket (deploy/local-postgres.sh puts it in the cluster's directory)."""
        port = self.value("SHOW port")
        return f"host={self.dir} port={port} user={self.value('SELECT current_user')} dbname={self.value('SELECT current_database()')}"

    def drop_slot(self, slot):
        wait_until(lambda: not self.walsender(slot), 15, f"{slot} to be released")
        self.sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                 "WHERE slot_name = %s", (slot,))

    def confirmed(self, slot):
        return self.value("SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
                          "WHERE slot_name = %s", (slot,))

    def wal_lsn(self):
        return self.value("SELECT pg_current_wal_lsn()::text")


def parse_lsn(text):
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


class Child:
    """A program of ours on free ports, logging at info level to a file of the run."""

    def __init__(self, name, args, log_dir, env=None):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=env)

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}: see {self.log_path}")
        return True

    def cpu(self):
        return cpu_seconds(self.pid)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Stack:
    """A reader and a gateway talking to it, both fresh (so VmHWM is this stack's peak);
    with_gateway=False: the reader alone (the gateway subscribes to every stream)."""

    def __init__(self, config, pg, gateway_args=(), with_gateway=True, name="", gateway_env=None,
                 reader_dsn=None):
        self.pg = pg
        self.control_url = f"tcp://127.0.0.1:{free_port()}"
        self.publish_url = f"tcp://127.0.0.1:{free_port()}"
        self.port = free_port()
        self.reader = Child(f"reader{name}", [config.reader_bin, "--pg", reader_dsn or pg.dsn,
                                              "--plugin", config.plugin, "--control", self.control_url,
                                       "--publish", self.publish_url, "--log-level", "info"],
                            config.log_dir)
        self.control = Control(self.control_url)
        wait_until(lambda: self.reader.alive() and self.control.try_request("status"), 15, "reader start")
        self.gateway = None
        if not with_gateway:
            return
        self.gateway = Child(f"gateway{name}", [config.gateway_bin, "--pg", pg.dsn, "--control", self.control_url,
                                         "--publish", self.publish_url, "--server-host", "127.0.0.1",
                                         "--server-port", str(self.port), "--log-level", "info",
                                         *gateway_args], config.log_dir,
                             env=dict(os.environ, **(gateway_env or {})))
        wait_until(lambda: self.gateway.alive() and self._listening(), 15, "gateway start")

    def _listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def ws_url(self, stream, observe=False):
        return f"ws://127.0.0.1:{self.port}/v1/lr/stream?slotName={stream}" + ("&mode=observe" if observe else "")

    def create_stream(self, plugin=None):
        """A stream with `plugin`, or the reader's --plugin."""
        return self.control.ok("create", **({"plugin": plugin} if plugin else {}))["stream"]

    def drop_stream(self, stream):
        self.control.ok("drop", stream=stream)

    def cpu(self):
        return {"reader": self.reader.cpu(), "gateway": self.gateway.cpu() if self.gateway else 0.0}

    def peak_rss_mib(self):
        return {"reader": status_kib(self.reader.pid, "VmHWM") / 1024,
                "gateway": status_kib(self.gateway.pid, "VmHWM") / 1024}

    def close(self):
        if self.gateway:
            self.gateway.stop()
        self.control.close()
        self.reader.stop()

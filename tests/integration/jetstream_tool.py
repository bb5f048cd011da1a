"""jetstream-read (tests/integration/jetstream_read.cpp) from Python: the NATS JetStream
client of the tests, since Debian has no Python NATS package. Its binary comes from
DELTASTREAM_JETSTREAM_READ_BIN, which ctest sets."""

import json
import os
import subprocess
import time

BINARY = os.environ.get("DELTASTREAM_JETSTREAM_READ_BIN")

# jetstream-read's exit codes (tool_exit in jetstream_read_options.hpp).
OK, FAILURE, UNREACHABLE, NO_STREAM, REJECTED = 0, 1, 2, 3, 4


def binary():
    if not BINARY:
        raise RuntimeError("DELTASTREAM_JETSTREAM_READ_BIN is not set")
    return BINARY


def parse_lines(stdout):
    """The complete JSON lines of an output (a cut last line was never flushed)."""
    return [json.loads(line) for line in stdout.split(b"\n")[:-1]]


class Result:
    def __init__(self, returncode, stdout, stderr, seconds):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr.decode("utf-8", errors="replace")
        self.seconds = seconds

    @property
    def lines(self):
        return parse_lines(self.stdout)

    def __repr__(self):
        return (f"jetstream-read exit {self.returncode} after {self.seconds:.2f}s\n"
                f"stdout:\n{self.stdout.decode('utf-8', errors='replace')}\nstderr:\n{self.stderr}")


def run(servers, *args, timeout=120):
    """One jetstream-read run to its end: `servers` is NatsCluster.servers or any
    comma-separated list (the first that answers is used)."""
    start = time.monotonic()
    process = subprocess.run([binary(), "--servers", servers, *map(str, args)],
                             capture_output=True, timeout=timeout)
    return Result(process.returncode, process.stdout, process.stderr, time.monotonic() - start)


def ok(servers, *args, timeout=120):
    """run(), asserting exit code 0; its result."""
    result = run(servers, *args, timeout=timeout)
    if result.returncode != OK:
        raise AssertionError(repr(result))
    return result


def start(servers, *args):
    """A jetstream-read running in the background (a reader through a node kill);
    finish() waits for it."""
    process = subprocess.Popen([binary(), "--servers", servers, *map(str, args)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.started = time.monotonic()
    return process


def finish(process, timeout=120):
    stdout, stderr = process.communicate(timeout=timeout)
    return Result(process.returncode, stdout, stderr, time.monotonic() - process.started)


# The modes, as the tests use them.

def info(servers, stream, timeout=120):
    """The stream's state: messages, bytes, first_seq, last_seq, replicas, leader, subjects."""
    return ok(servers, "--stream", stream, "--info", timeout=timeout).lines[0]


def create_stream(servers, stream, subjects, replicas=3, extra=()):
    """The new stream's info."""
    return ok(servers, "--stream", stream, "--create-stream", "--subjects", ",".join(subjects),
              "--replicas", replicas, *extra).lines[0]


def publish(servers, stream, subject, count, prefix, *extra):
    """Publish acks: msg_id, stream, seq, duplicate."""
    return ok(servers, "--stream", stream, "--publish", subject, "--count", count,
              "--msg-id-prefix", prefix, *extra).lines


def read(servers, stream, durable, *extra):
    """The messages of one durable read: subject, stream_seq, headers, data."""
    return ok(servers, "--stream", stream, "--durable", durable, *extra).lines

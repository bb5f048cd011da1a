"""The floor under figure 3's capacity: what one small loopback TCP send (TCP_NODELAY, as
the gateway's connections) costs the kernel on this machine, with a reader process
draining the other end. On loopback the sender's system call also runs the receiving
side's TCP and wakes the receiver, so this is the kernel's share of one delivery that
leaves in a send of its own; 1 / it bounds such deliveries per core."""

import os
import resource
import socket


def kernel_us_per_send(message_bytes, sends=100_000):
    listener = socket.create_server(("127.0.0.1", 0))
    child = os.fork()
    if child == 0:  # the receiver: read until everything arrived
        try:
            receiver = socket.create_connection(listener.getsockname())
            left = message_bytes * sends
            while left > 0:
                data = receiver.recv(1 << 20)
                if not data:
                    break
                left -= len(data)
        finally:
            os._exit(0)
    sender, _ = listener.accept()
    sender.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    message = b"x" * message_bytes
    before = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    for _ in range(sends):
        sender.sendall(message)
    spent = resource.getrusage(resource.RUSAGE_SELF).ru_stime - before
    sender.close()
    listener.close()
    os.waitpid(child, 0)
    return spent / sends * 1e6

#!/usr/bin/env python3
"""Per-rank wrapper that lets mpirun (in the root network namespace) start
each MPI rank inside its peer's namespace.

    mpirun ... python3 mpi_rank.py NS_PREFIX -- BENCH ARGS...

Rank R (OMPI_COMM_WORLD_RANK) runs `ip netns exec NS_PREFIX<R> BENCH ARGS`.
The rank must still reach mpirun's PMIx server, which listens on 127.0.0.1
of the root namespace (PMIX_SERVER_URI*: tcp4://127.0.0.1:PORT): this
wrapper, started by mpirun in the root namespace, opens a listening socket
on 127.0.0.1:PORT inside the peer's namespace (setns there, bind, setns
back) and relays every connection to the real server.  The MPI traffic
itself (TCP BTL) goes over wan0, through the emulator.  Exits with the
rank's status; SIGTERM/SIGINT are passed on to the rank.
"""
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading

CLONE_NEWNET = 0x40000000


def setns(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns(%s): %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def relay(listener, port):
    while True:
        try:
            inner, _ = listener.accept()
        except OSError:
            return
        try:
            outer = socket.create_connection(("127.0.0.1", port))  # root namespace
        except OSError:
            inner.close()
            continue
        for a, b in ((inner, outer), (outer, inner)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


def main():
    argv = sys.argv[1:]
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: mpi_rank.py NS_PREFIX -- COMMAND ARGS...")
    ns = argv[0] + os.environ["OMPI_COMM_WORLD_RANK"]
    command = argv[2:]
    ports = set()
    for k, v in os.environ.items():
        if k.startswith("PMIX_SERVER_URI"):
            ports.update(int(p) for p in re.findall(r"tcp4://127\.0\.0\.1:(\d+)", v))
    own = "/proc/self/ns/net"
    root = os.open(own, os.O_RDONLY)
    listeners = []
    try:
        setns("/var/run/netns/" + ns)
        for port in sorted(ports):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(64)
            listeners.append((s, port))
    finally:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(root, CLONE_NEWNET) != 0:
            sys.exit("mpi_rank.py: cannot return to the root namespace")
        os.close(root)
    for s, port in listeners:
        threading.Thread(target=relay, args=(s, port), daemon=True).start()
    child = subprocess.Popen(["ip", "netns", "exec", ns] + command)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda n, f: child.send_signal(n))
    rc = child.wait()
    return 128 - rc if rc < 0 else rc


if __name__ == "__main__":
    sys.exit(main())

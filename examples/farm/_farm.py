"""What the farm's tests share: an echo server and its client."""

from __future__ import annotations

import socket
import threading

import netns_fast


def echo_server(ns: netns_fast.Netns, addr: str) -> tuple[socket.socket, int]:
    """A TCP echo server listening on addr (port chosen) inside ns.

    Serves connections on a daemon thread (the thread never moves: the
    socket was made inside ns) until the socket is closed.
    """
    srv = netns_fast.socket(ns, socket.AF_INET, socket.SOCK_STREAM)
    srv.bind((addr, 0))
    srv.listen(64)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(4096):
                    conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def echo(ns: netns_fast.Netns, addr: str, port: int, data: bytes) -> bytes:
    """Send data to the echo server at addr:port from inside ns."""
    with netns_fast.socket(ns, socket.AF_INET, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect((addr, port))
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := c.recv(4096):
            got += chunk
        return got

"""Slow clients don't take the site down: gunicorn with gunicorn.conf.py (one worker process of
two threads here) still answers /healthz while more connections than it has threads stall.

It runs on a SQLite file of its own: the database plays no part in how connections are served.
"""

from __future__ import annotations

import contextlib
import http.client
import socket

import pytest

from tests.stack.conftest import base_env, free_port, migrate, start_web, stop

THREADS = 2
STALLED = 4 * THREADS  # connections: more than the worker has threads
CLIENT_TIMEOUT = 10  # seconds a prompt answer may take at most on a loaded test machine


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slow-clients")
    env = base_env(tmp)
    env.update(LMS_DATABASE_URL=f"sqlite:///{tmp / 'lms.sqlite3'}", LMS_WEB_THREADS=str(THREADS))
    migrate(env)
    port = free_port()
    proc = start_web(env, port)
    yield port
    stop(proc)


def healthz(port: int) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def connect(port: int, *, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket()
    if receive_buffer:  # a small window: the server can't hand the whole answer to the kernel
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    return sock


def test_healthz_answers_while_connections_never_finish_their_request_line(web):
    stalled = [connect(web) for _ in range(STALLED)]
    with contextlib.ExitStack() as stack:
        for sock in stalled:
            stack.callback(sock.close)
            sock.sendall(b"GET /healt")  # half a request line, and nothing more

        assert healthz(web) == (200, b'{"status":"ok"}\n')

        # Nor are they kept for ever: the server closes each unfinished request.
        assert all(sock.recv(1024) == b"" for sock in stalled)
    assert healthz(web)[0] == 200


def test_healthz_answers_while_connections_never_finish_their_headers(web):
    stalled = [connect(web) for _ in range(STALLED)]
    with contextlib.ExitStack() as stack:
        for sock in stalled:
            stack.callback(sock.close)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow")

        assert healthz(web)[0] == 200


def test_healthz_answers_while_clients_read_the_stylesheet_very_slowly(web):
    readers = [connect(web, receive_buffer=1024) for _ in range(STALLED)]
    with contextlib.ExitStack() as stack:
        for sock in readers:
            stack.callback(sock.close)
            sock.sendall(b"GET /static/css/app.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for sock in readers:
            assert sock.recv(12) == b"HTTP/1.1 200"  # and then they read no more for a while

        assert healthz(web)[0] == 200

        # Each slow reader still gets its whole answer when it reads on.
        for sock in readers:
            received = b""
            while b"\r\n\r\n" not in received:
                received += sock.recv(1024)
            head, body = received.split(b"\r\n\r\n", 1)
            length = int(
                next(
                    line.split(b":", 1)[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
            )
            while len(body) < length:
                body += sock.recv(65536)
            assert b"body" in body and len(body) == length

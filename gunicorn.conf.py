"""Gunicorn settings of the production stack (`make serve`, scripts/serve.py).

gunicorn reads this file from the working directory: `gunicorn "lms:create_app()"`.

Slow clients: a threaded worker (gthread) keeps idle and kept-alive connections in its poller, not
in a thread, and the worker class below also gathers each request's line and headers there: a
thread is taken only by a request whose head has fully arrived, so connections that never finish
their headers cost a file descriptor each until HEAD_TIMEOUT, never a thread. A thread does wait
for a slow request body and for a slow reader of a response larger than the socket buffers (a
video, an export): in front of the app, a buffering proxy such as nginx takes those (README,
"Running in production").
"""

from __future__ import annotations

import multiprocessing
import os
import selectors
import time
from functools import partial

from gunicorn.workers.gthread import ThreadWorker

# Processes: LMS_WEB_WORKERS, else two per core. Each has `threads` request threads.
workers = int(os.environ.get("LMS_WEB_WORKERS") or 2 * multiprocessing.cpu_count())
threads = int(os.environ.get("LMS_WEB_THREADS") or 8)
bind = os.environ.get("LMS_BIND") or "127.0.0.1:8000"
# A worker whose main loop is silent this long is killed and replaced (a request itself is not
# limited by it in a threaded worker; requests do only quick work, slow work runs as a job).
timeout = 30
# On SIGTERM (a stop or a restart), requests in progress get this long to finish.
graceful_timeout = 30
# Seconds an idle kept-alive connection stays open (behind nginx: less than its
# `keepalive_timeout` towards the app).
keepalive = 5
# The addresses whose X-Forwarded-Proto gunicorn believes (the proxy's; gunicorn's default is
# 127.0.0.1 and ::1, also the FORWARDED_ALLOW_IPS variable). The client's address is taken from
# X-Forwarded-For by the app itself, trusting LMS_PROXY_HOPS proxies (lms.configure_proxy).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1"
# Errors to stderr. No access log here: request lines carry personal ids; the proxy's access log
# is the place for traffic figures.
errorlog = "-"
# gunicorn 27's control socket (`gunicornc`) sits at one path per user: several servers on one
# machine (app servers, tests, benchmarks) would take it from each other. Not used here.
control_socket_disable = True
loglevel = os.environ.get("LMS_LOG_LEVEL") or "info"

# Seconds a connection has to send its request line and headers, and their largest size.
HEAD_TIMEOUT = 10
HEAD_LIMIT = 64 * 1024


class HeadFirstThreadWorker(ThreadWorker):
    """gthread whose poller gathers each request's head before a thread serves it.

    gunicorn 27's gthread hands a connection to a thread as soon as its first bytes arrive, and
    the thread then blocks reading the rest of the head: a few connections that send half a
    request line hold every thread (measured: /healthz unanswered). Here the main loop reads the
    head without blocking; a connection that has not sent all of it within HEAD_TIMEOUT is
    closed (gthread's own sweep of pending connections, by their `timeout`).
    """

    def enqueue_req(self, conn):
        if self.cfg.is_ssl:  # TLS ends at the proxy; a TLS socket can't be read ahead like this
            super().enqueue_req(conn)
            return
        # Bytes the parser already read past the previous request belong to this one.
        conn.head = conn.parser.unreader.take_buffered() if conn.parser else b""
        if self._head_complete(conn.head):
            self._serve(conn)
            return
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + HEAD_TIMEOUT
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_head, conn))

    def _read_head(self, conn, sock):
        try:
            data = sock.recv(HEAD_LIMIT)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data and not self._head_complete(conn.head + data):
            conn.head += data
            return
        self.poller.unregister(sock)
        self.pending_conns.remove(conn)
        if not data:  # the client went away
            self.nr_conns -= 1
            conn.close()
            return
        conn.head += data
        self._serve(conn)

    @staticmethod
    def _head_complete(head: bytes) -> bool:
        return b"\r\n\r\n" in head or len(head) >= HEAD_LIMIT

    def _serve(self, conn):
        conn.data_ready = True  # no waiting for data in the thread: it is here
        super().enqueue_req(conn)

    def handle(self, conn):
        head = getattr(conn, "head", b"")
        if head:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(head)
            conn.head = b""
        return super().handle(conn)


worker_class = HeadFirstThreadWorker

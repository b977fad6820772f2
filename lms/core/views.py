"""Health checks: /healthz (the process answers) and /readyz (it can serve: its database and,
when configured, Redis answer)."""

import redis
from flask import Blueprint, current_app, jsonify

from lms.core.access import public
from lms.core.params import json_endpoint
from lms.extensions import db

bp = Blueprint("core", __name__)

# Seconds a readiness probe waits for Redis.
REDIS_TIMEOUT = 1


@bp.get("/healthz")
@public
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
@public
@json_endpoint
def readyz():
    """{"status": "ok", "database": "ok", "redis": "ok"}, or a 503 naming what is unreachable.
    Redis is checked only when LMS_REDIS_URL is set."""
    checks = {"database": _database()}
    if url := current_app.config.get("LMS_REDIS_URL"):
        checks["redis"] = _redis(url)
    ready = all(state == "ok" for state in checks.values())
    return jsonify(status="ok" if ready else "unavailable", **checks), 200 if ready else 503


def _database() -> str:
    """Ping on a connection of the pool's own, as pool_pre_ping does: not the request's session,
    and no transaction (on SQLite it would wait for the write lock behind an import)."""
    try:
        connection = db.engine.raw_connection()
        try:
            db.engine.dialect.do_ping(connection.dbapi_connection)
        finally:
            connection.close()
    except Exception as error:  # whatever the driver raises, the database is not usable
        current_app.logger.warning("readiness: database unreachable (%s)", type(error).__name__)
        return "unreachable"
    return "ok"


def _redis(url: str) -> str:
    try:
        with redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
        ) as client:
            client.ping()
    except redis.RedisError as error:
        current_app.logger.warning("readiness: Redis unreachable (%s)", type(error).__name__)
        return "unreachable"
    return "ok"

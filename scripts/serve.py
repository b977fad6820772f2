"""The production stack on this machine (`make serve`): PostgreSQL and Redis from LMS_DATABASE_URL
and LMS_REDIS_URL, the migrations, then gunicorn (gunicorn.conf.py), a Celery worker and Celery
beat. Ctrl+C (or SIGTERM) stops all three; if one of them exits, the others are stopped too, and
this script exits non-zero so that a service manager restarts the stack.

    .venv/bin/python scripts/serve.py [--bind 127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Long enough for gunicorn's graceful_timeout and a Celery job to end.
STOP_SECONDS = 40


def refusal(env: dict) -> str | None:
    """Why the production stack can't start with this environment, or None."""
    database = env.get("LMS_DATABASE_URL", "").strip()
    redis = env.get("LMS_REDIS_URL", "").strip()
    if not database or database.startswith("sqlite"):
        return (
            "LMS_DATABASE_URL must name a PostgreSQL database for the production stack, e.g. "
            "postgresql+psycopg://lms@127.0.0.1:5432/lms (`make run` serves the embedded SQLite)."
        )
    if not redis:
        return "LMS_REDIS_URL must name a Redis database, e.g. redis://127.0.0.1:6379/0."
    return None


def commands(python: str, bind: str) -> dict[str, list[str]]:
    schedule = ROOT / "instance" / "celerybeat-schedule"
    celery = [python, "-m", "celery", "-A", "lms.worker"]
    return {
        "web": [python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b", bind, "lms:create_app()"],
        "worker": [*celery, "worker", "--loglevel=info"],
        "beat": [*celery, "beat", "--loglevel=info", "--schedule", str(schedule)],
    }


def stop_all(processes: dict[str, subprocess.Popen]) -> None:
    """SIGTERM to each (gunicorn and Celery then finish what they are doing), SIGKILL after
    STOP_SECONDS."""
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for name, process in processes.items():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"serve: {name} did not stop in {STOP_SECONDS} s: killed", file=sys.stderr)
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", default=os.environ.get("LMS_BIND") or "127.0.0.1:8000")
    args = parser.parse_args(argv)
    if message := refusal(dict(os.environ)):
        print(f"serve: {message}", file=sys.stderr)
        return 2
    python = sys.executable
    (ROOT / "instance").mkdir(exist_ok=True)
    upgrade = subprocess.run([python, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT)
    if upgrade.returncode:
        print("serve: `flask db upgrade` failed: nothing started.", file=sys.stderr)
        return upgrade.returncode

    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    processes: dict[str, subprocess.Popen] = {}
    # Each in a session of its own: Ctrl+C reaches this script only, which stops them in order.
    for name, command in commands(python, args.bind).items():
        processes[name] = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
    print(f"serve: http://{args.bind} (gunicorn, a Celery worker and beat; Ctrl+C stops them)")
    exited = None
    while not stopping and exited is None:
        time.sleep(0.5)
        exited = next((n for n, p in processes.items() if p.poll() is not None), None)
    if exited:
        print(f"serve: {exited} exited (code {processes[exited].returncode}): stopping the rest")
    stop_all(processes)
    return 1 if exited else 0


if __name__ == "__main__":
    sys.exit(main())

"""Entry point for `flask` and gunicorn."""

from lms import create_app

app = create_app()

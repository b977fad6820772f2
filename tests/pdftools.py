"""poppler-utils for the PDF tests (pdftotext, pdffonts, pdftoppm): skipped when missing, a
failure when the CI requires them (LMS_REQUIRE_E2E=1; `make test` installs them)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def require_poppler(*tools: str) -> None:
    for tool in tools or ("pdftotext", "pdffonts", "pdftoppm"):
        if shutil.which(tool) is None:
            message = f"{tool} not found: install poppler-utils (make test does)"
            if os.environ.get("LMS_REQUIRE_E2E") == "1":
                pytest.fail(message, pytrace=False)
            pytest.skip(message)


def run(*args) -> str:
    """A command's standard output (it must succeed within a minute)."""
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout

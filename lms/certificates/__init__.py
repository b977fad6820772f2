"""Certificates: issuing, PDFs, public verification, lifecycle."""

"""Worker transcripts and training hours (学时)."""

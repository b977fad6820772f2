"""File storage behind one interface: a local folder by default (S3-compatible later)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from flask import current_app


class LocalStorage:
    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or ".." in parts or PurePosixPath(key).is_absolute():
            raise ValueError(f"bad storage key {key!r}")
        return self.root.joinpath(*parts)

    def save(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def local_path(self, key: str) -> Path:
        """A path on disk for send_file (range requests come with it)."""
        return self._path(key)


def storage() -> LocalStorage:
    return LocalStorage(Path(current_app.config["LMS_STORAGE_DIR"]))

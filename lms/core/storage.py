"""File storage behind one interface: a local folder by default, an S3-compatible object store
when LMS_S3_BUCKET is set (several app servers then share the files).

Keys are relative POSIX paths ("courses/3/v1/media/a.png"). Both backends save, read, test
and serve a key; `send` is a Flask response with range requests (video seeking), conditional
GETs and the caller's headers. Files in the object store are streamed through the app rather
than redirected to a presigned URL: the access check runs on every request (each range of a
video too), the response keeps our headers (sandbox CSP, nosniff, Content-Disposition), and
the store's endpoint needn't be reachable from the learners' phones.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path, PurePosixPath

from flask import current_app, request, send_file


def _parts(key: str) -> tuple[str, ...]:
    """The key's path parts; a key that is empty, absolute or leaves the root is an error."""
    path = PurePosixPath(key)
    if not path.parts or ".." in path.parts or path.is_absolute():
        raise ValueError(f"bad storage key {key!r}")
    return path.parts


class LocalStorage:
    """Files in a folder (LMS_STORAGE_DIR): the embedded default."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_parts(key))

    def save(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def send(self, key: str, **options):
        """The file as a response (send_file's options: mimetype, download_name, …)."""
        return send_file(self._path(key), **options)

    def local_path(self, key: str) -> Path:
        """The file's path on disk: local storage only (serve files with `send`)."""
        return self._path(key)


class S3Storage:
    """Objects in an S3-compatible bucket (LMS_S3_BUCKET), under an optional key prefix."""

    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _key(self, key: str) -> str:
        return self.prefix + "/".join(_parts(key))

    def save(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def read(self, key: str) -> bytes:
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(key) from exc
        with found["Body"] as body:
            return body.read()

    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def send(self, key: str, *, conditional: bool = True, etag=True, **options):
        """The object streamed through the app, with ranges (werkzeug reads the range asked
        for by seeking the object, which fetches only that part)."""
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(key)
        size = head["ContentLength"]
        reader = _ObjectReader(self.client, self.bucket, self._key(key), size)
        response = send_file(
            io.BufferedReader(reader, buffer_size=64 * 1024),
            conditional=False,
            etag=head["ETag"].strip('"') if etag is True else etag,
            last_modified=head["LastModified"],
            **options,
        )
        response.content_length = size
        if conditional:
            response = response.make_conditional(
                request.environ, accept_ranges=True, complete_length=size
            )
        return response


class _ObjectReader(io.RawIOBase):
    """A read-only, seekable file over an object, read by ranged GETs of at most WINDOW bytes
    from the current offset (a seek costs nothing until the next read)."""

    WINDOW = 4 * 1024 * 1024  # what one GET asks for: a range response rarely needs more

    def __init__(self, client, bucket: str, key: str, size: int):
        self.client, self.bucket, self.key, self.size = client, bucket, key, size
        self.position, self.body = 0, None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        if base + offset != self.position:
            self._drop_body()
            self.position = base + offset
        return self.position

    def readinto(self, buffer) -> int:
        if self.position >= self.size:
            return 0
        data = self.body.read(len(buffer)) if self.body is not None else b""
        if not data:  # the first read after a seek, or the end of the last window
            self._drop_body()
            last = min(self.size, self.position + self.WINDOW) - 1
            self.body = self.client.get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes={self.position}-{last}"
            )["Body"]
            data = self.body.read(len(buffer))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def _drop_body(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None

    def close(self) -> None:
        self._drop_body()
        super().close()


@cache
def _s3_client(endpoint_url, region, access_key_id, secret_access_key):
    """One client per process and settings (boto3 clients are thread-safe and pool their
    connections); without keys, boto3 reads the standard AWS_* variables and files."""
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
    )


def storage() -> LocalStorage | S3Storage:
    """The configured storage: the object store when LMS_S3_BUCKET is set, else the folder."""
    config = current_app.config
    if bucket := config.get("LMS_S3_BUCKET"):
        client = _s3_client(
            config.get("LMS_S3_ENDPOINT_URL"),
            config.get("LMS_S3_REGION"),
            config.get("LMS_S3_ACCESS_KEY_ID"),
            config.get("LMS_S3_SECRET_ACCESS_KEY"),
        )
        return S3Storage(client, bucket, config.get("LMS_S3_PREFIX") or "")
    return LocalStorage(Path(config["LMS_STORAGE_DIR"]))

"""Object storage behind the landing zone: a local folder or an S3 bucket, addressed by URI.

Ingestion code (which runs on the driver, outside Spark) writes through `ObjectStore`; Spark reads the same
files through its own filesystem layer (`spark_uri` turns `s3://` into `s3a://`).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from lakehouse.config import S3Settings


@dataclass(frozen=True)
class FileInfo:
    """A stored file: key relative to the store root, size in bytes, last modification time (UTC)."""

    key: str
    size: int
    mtime: datetime


class StorageError(RuntimeError):
    """A read or write against the landing zone failed."""


class ObjectStore(Protocol):
    """Keys are `/`-separated paths relative to the store's root URI."""

    root: str

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write `data` at `key` atomically (readers never see a partial file)."""

    def read_bytes(self, key: str) -> bytes:
        """The bytes stored at `key`; `FileNotFoundError` if absent."""

    def read_head(self, key: str, size: int) -> bytes:
        """The first `size` bytes stored at `key` (all of them when fewer); `FileNotFoundError` if absent."""

    def exists(self, key: str) -> bool:
        """Whether `key` exists."""

    def list_keys(self, prefix: str = "") -> list[str]:
        """All keys under `prefix`, sorted."""

    def list_files(self, prefix: str = "") -> list[FileInfo]:
        """Keys under `prefix` with their size and modification time, sorted by key."""

    def delete(self, key: str) -> None:
        """Remove `key` if present."""

    def uri(self, key: str) -> str:
        """The full URI of `key` (what Spark is given)."""


def is_s3(uri: str) -> bool:
    """True for `s3://` and `s3a://` URIs."""
    return urlparse(uri).scheme in {"s3", "s3a"}


def spark_uri(uri: str) -> str:
    """The URI Spark should read: `s3://bucket/x` becomes `s3a://bucket/x` (Hadoop's S3 connector)."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        return "s3a://" + uri[len("s3://") :]
    return uri


GLOB_CHARACTERS = re.compile(r"([\\\[\]{}*?])")


def literal_uri(uri: str) -> str:
    """A file's URI as a glob pattern matching only that file (a backslash escapes in Hadoop's globs). Spark's
    readers glob every path they are given: a name such as `ride [1].csv`, or a root such as `/data/lake [1]`,
    is otherwise a pattern for other files, and the file is not found."""
    return GLOB_CHARACTERS.sub(r"\\\1", uri)


def spark_can_read(key: str) -> bool:
    """Whether Spark's file readers can open the file at `key`: Hadoop's paths take a `:` in a name for the end of
    a scheme (`Relative path in absolute URI`)."""
    return ":" not in key


class LocalStore:
    """A folder on local disk."""

    def __init__(self, root: str) -> None:
        self.root = str(Path(root.removeprefix("file://")).resolve())

    def _path(self, key: str) -> Path:
        path = Path(self.root, key)
        if Path(self.root) not in path.resolve().parents and path.resolve() != Path(self.root):
            raise StorageError(f"key escapes the store root: {key!r}")
        return path

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write to a temporary file in the same folder, then rename over the target."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read_bytes(self, key: str) -> bytes:
        """The file's bytes."""
        return self._path(key).read_bytes()

    def read_head(self, key: str, size: int) -> bytes:
        """The file's first `size` bytes."""
        with self._path(key).open("rb") as f:
            return f.read(size)

    def exists(self, key: str) -> bool:
        """Whether the file exists."""
        return self._path(key).is_file()

    def list_keys(self, prefix: str = "") -> list[str]:
        """Every file under `prefix` (temporary files excluded), as keys relative to the root."""
        base = self._path(prefix) if prefix else Path(self.root)
        if not base.exists():
            return []
        root = Path(self.root)
        return sorted(
            p.relative_to(root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )

    def list_files(self, prefix: str = "") -> list[FileInfo]:
        """Every file under `prefix` with size and modification time."""
        infos = []
        for key in self.list_keys(prefix):
            stat = Path(self.root, key).stat()
            infos.append(FileInfo(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)))
        return infos

    def delete(self, key: str) -> None:
        """Remove the file if present."""
        self._path(key).unlink(missing_ok=True)

    def uri(self, key: str) -> str:
        """An absolute `file:` path usable by Spark."""
        return "file://" + str(self._path(key))


class S3Store:
    """A bucket and prefix on S3 or an S3-compatible server, through boto3."""

    def __init__(self, root: str, settings: S3Settings, client: object | None = None) -> None:
        parsed = urlparse(root)
        if parsed.scheme not in {"s3", "s3a"} or not parsed.netloc:
            raise StorageError(f"not an S3 URI: {root!r}")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.root = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=settings.endpoint_url,
                region_name=settings.region,
                config=Config(
                    s3={"addressing_style": "path" if settings.path_style else "auto"},
                    retries={"max_attempts": 5, "mode": "standard"},
                ),
            )
        self._client = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}".lstrip("/") if self.prefix else key

    def write_bytes(self, key: str, data: bytes) -> None:
        """A single PUT: S3 makes it visible whole or not at all."""
        self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)  # type: ignore[attr-defined]

    def read_bytes(self, key: str) -> bytes:
        """The object's bytes."""
        return self._get(key)

    def read_head(self, key: str, size: int) -> bytes:
        """The object's first `size` bytes (a ranged GET; an empty object has none to give)."""
        from botocore.exceptions import ClientError

        try:
            return self._get(key, Range=f"bytes=0-{size - 1}")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""
            raise

    def _get(self, key: str, **options: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._key(key), **options)  # type: ignore[attr-defined]
        except self._client.exceptions.NoSuchKey as exc:  # type: ignore[attr-defined]
            raise FileNotFoundError(self.uri(key)) from exc
        return response["Body"].read()

    def exists(self, key: str) -> bool:
        """Whether the object exists (a HEAD request)."""
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(key))  # type: ignore[attr-defined]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def list_keys(self, prefix: str = "") -> list[str]:
        """Every object under `prefix`, as keys relative to the store's prefix."""
        return [info.key for info in self.list_files(prefix)]

    def list_files(self, prefix: str = "") -> list[FileInfo]:
        """Every object under `prefix` with size and last-modified time."""
        paginator = self._client.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
        full = self._key(prefix)
        strip = f"{self.prefix}/" if self.prefix else ""
        infos: list[FileInfo] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            infos.extend(
                FileInfo(obj["Key"][len(strip) :], int(obj["Size"]), obj["LastModified"].astimezone(UTC))
                for obj in page.get("Contents", [])
            )
        return sorted(infos, key=lambda i: i.key)

    def delete(self, key: str) -> None:
        """Remove the object (no error if absent)."""
        self._client.delete_object(Bucket=self.bucket, Key=self._key(key))  # type: ignore[attr-defined]

    def uri(self, key: str) -> str:
        """The `s3://` URI of the object."""
        return f"s3://{self.bucket}/{self._key(key)}"


def open_store(root: str, s3: S3Settings | None = None) -> ObjectStore:
    """The store for a landing root URI: `s3://...` -> S3Store, anything else -> LocalStore."""
    if is_s3(root):
        return S3Store(root, s3 or S3Settings())
    return LocalStore(root)

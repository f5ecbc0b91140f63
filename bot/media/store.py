"""Where kept photos live, by name: a local directory (MEDIA_DIR) or any S3-compatible store
(MEDIA_S3_*), and the unguessable tokens that name them and their public address.

A photo's name in the store is its token, and the token is its public address
(PUBLIC_BASE_URL/media/<token>): whoever knows the address may see the photo, nobody can
guess one. Store failures are `MediaStoreUnavailable` (a kind of MediaUnavailable: try later).
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.media.types import MediaUnavailable
from bot.settings import Settings

TOKEN_BYTES = 24  # 192 random bits, 32 URL-safe characters
# What a token looks like (anchored: match, fullmatch and search agree).
TOKEN_PATTERN = re.compile(r"\A[A-Za-z0-9_-]{32,64}\Z")
# A name in a store: letters, digits, "-" and "_" only (no dot, no slash: nothing to traverse).
NAME_PATTERN = re.compile(r"\A[A-Za-z0-9_-]{1,128}\Z")
DEFAULT_TYPE = "application/octet-stream"
STORES = ("local", "s3")


@dataclass(frozen=True)
class StoredMedia:
    """A kept file's bytes and content type."""

    data: bytes
    content_type: str


class MediaStoreUnavailable(MediaUnavailable):
    """The store could not be reached or failed (a disk error, S3 down): try again later."""


class MediaStore(Protocol):
    """Files kept by name (see NAME_PATTERN; a ValueError for any other name)."""

    def put(self, name: str, data: bytes, content_type: str) -> None:
        """Keep `data` under `name`, replacing what was there."""

    def get(self, name: str) -> StoredMedia | None:
        """What is kept under `name`, or None."""

    def delete(self, name: str) -> None:
        """Forget `name`; nothing happens if it is not kept."""


def new_token() -> str:
    """A fresh unguessable, URL-safe name for a photo."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def public_url(token: str, settings: Settings) -> str:
    """The address at which the photo named `token` is served."""
    return settings.public_base_url.rstrip("/") + "/media/" + token


def checked_name(name: str) -> str:
    """`name` if it may name a file in a store; ValueError otherwise."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError("not a media name")
    return name


class LocalMediaStore:
    """Files in one directory (made on first use, readable by this user alone): the bytes in
    `<name>`, the content type beside them in `<name>.type`, each written atomically."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)

    def put(self, name: str, data: bytes, content_type: str) -> None:
        """Keep `data` under `name` (its type first, so a reader of the bytes finds it)."""
        path = self.directory / checked_name(name)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._write(path.with_name(name + ".type"), content_type.encode("utf-8"))
            self._write(path, data)
        except OSError as exc:
            raise MediaStoreUnavailable(f"media directory: {type(exc).__name__}") from exc

    def get(self, name: str) -> StoredMedia | None:
        """The bytes under `name` and their type, or None."""
        path = self.directory / checked_name(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise MediaStoreUnavailable(f"media directory: {type(exc).__name__}") from exc
        try:
            content_type = path.with_name(name + ".type").read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            content_type = ""
        return StoredMedia(data=data, content_type=content_type or DEFAULT_TYPE)

    def delete(self, name: str) -> None:
        """Remove `name`'s bytes, then its type."""
        path = self.directory / checked_name(name)
        try:
            path.unlink(missing_ok=True)
            path.with_name(name + ".type").unlink(missing_ok=True)
        except OSError as exc:
            raise MediaStoreUnavailable(f"media directory: {type(exc).__name__}") from exc

    def _write(self, path: Path, data: bytes) -> None:
        """Write `path` whole or not at all: a temporary file beside it, then os.replace."""
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class S3MediaStore:
    """Objects in an S3-compatible bucket, under MEDIA_S3_PREFIX, with their ContentType."""

    def __init__(self, settings: Settings):
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:  # the "s3" extra is not installed
            raise ValueError("MEDIA_STORE=s3 needs boto3 (pip install 'intake311[s3]')") from exc
        if not settings.media_s3_bucket:
            raise ValueError("MEDIA_STORE=s3 needs MEDIA_S3_BUCKET")
        self.bucket = settings.media_s3_bucket
        prefix = settings.media_s3_prefix.strip("/")
        self.prefix = prefix + "/" if prefix else ""
        config = Config(
            connect_timeout=5,
            read_timeout=15,
            retries={"max_attempts": 3, "mode": "standard"},
            # Another S3-compatible server (MinIO, Ceph...) seldom has a DNS name per bucket.
            s3={"addressing_style": "path" if settings.media_s3_endpoint_url else "auto"},
        )
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.media_s3_endpoint_url or None,
            region_name=settings.media_s3_region or None,
            # Unset: boto3's own chain (environment, instance role...).
            aws_access_key_id=settings.media_s3_access_key_id or None,
            aws_secret_access_key=settings.media_s3_secret_access_key or None,
            config=config,
        )

    def put(self, name: str, data: bytes, content_type: str) -> None:
        """Upload `data` as `name`'s object."""
        key = self.prefix + checked_name(name)
        with _translated():
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, name: str) -> StoredMedia | None:
        """`name`'s object, or None when the bucket has none."""
        key = self.prefix + checked_name(name)
        from botocore.exceptions import ClientError

        with _translated():
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                    return None
                raise
            data = answer["Body"].read()
        return StoredMedia(data=data, content_type=answer.get("ContentType") or DEFAULT_TYPE)

    def delete(self, name: str) -> None:
        """Delete `name`'s object (S3 answers the same whether it was there or not)."""
        key = self.prefix + checked_name(name)
        with _translated():
            self.client.delete_object(Bucket=self.bucket, Key=key)


@contextmanager
def _translated() -> Iterator[None]:
    """Boto's errors in the block as MediaStoreUnavailable (by the error's code alone: no
    bucket, key or credential in the message)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        raise MediaStoreUnavailable(f"S3: {_error_code(exc)}") from exc
    except (BotoCoreError, OSError) as exc:
        raise MediaStoreUnavailable(f"S3: {type(exc).__name__}") from exc


def _error_code(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", "unknown"))


_stores: dict[tuple, MediaStore] = {}
_stores_lock = threading.Lock()


def media_store(settings: Settings) -> MediaStore:
    """The store MEDIA_STORE names, one per process and configuration (built on first use,
    after a worker's fork: a boto3 client is not shared across processes)."""
    kind = settings.media_store
    if kind == "local":
        key: tuple = (os.getpid(), kind, settings.media_dir)
    elif kind == "s3":
        key = (
            os.getpid(),
            kind,
            settings.media_s3_bucket,
            settings.media_s3_endpoint_url,
            settings.media_s3_region,
            settings.media_s3_prefix,
            settings.media_s3_access_key_id,
            settings.media_s3_secret_access_key,
        )
    else:
        raise ValueError(f"MEDIA_STORE must be one of {', '.join(STORES)}, not {kind!r}")
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            if kind == "local":
                store = LocalMediaStore(settings.media_dir)
            else:
                store = S3MediaStore(settings)
            _stores[key] = store
        return store

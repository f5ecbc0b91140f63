"""bot.media.store: the local directory and an S3-compatible store (moto's S3 server over
HTTP, driven by the real boto3), tokens, public addresses and the choice of store."""

from __future__ import annotations

import os
import stat

import pytest
from pydantic import ValidationError

from bot.media.store import (
    TOKEN_PATTERN,
    LocalMediaStore,
    MediaStoreUnavailable,
    S3MediaStore,
    StoredMedia,
    media_store,
    new_token,
    public_url,
)
from bot.media.types import MediaUnavailable
from bot.settings import Settings
from tests.processes import s3_server as moto_s3

PHOTO = b"\xff\xd8\xff\xe0 not really a jpeg, the store does not care \xff\xd9"
TRAVERSALS = [
    "../escape",
    "..",
    ".",
    "",
    "a/b",
    "/etc/passwd",
    "a\\b",
    "name.type",
    "name\x00",
    "x" * 129,
    "caf\u00e9",
    " name",
]

# --- tokens -----------------------------------------------------------------------------------


def test_tokens_are_unguessable_url_safe_and_match_the_pattern():
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert TOKEN_PATTERN.fullmatch(token) and TOKEN_PATTERN.match(token)
        assert len(token) >= 32


@pytest.mark.parametrize(
    "text", ["", "short", "../" + "a" * 40, "a" * 31, "a" * 65, "a" * 32 + "\n", "\u00e9" * 40]
)
def test_what_is_not_a_token_does_not_match(text):
    assert not TOKEN_PATTERN.match(text)


def test_public_url_is_under_the_public_base():
    settings = Settings(_env_file=None, public_base_url="https://311.example.gov/")
    assert public_url("abc", settings) == "https://311.example.gov/media/abc"


# --- the local directory ----------------------------------------------------------------------


def test_local_round_trip_replace_and_delete(tmp_path):
    store = LocalMediaStore(tmp_path / "media" / "photos")
    token = new_token()
    assert store.get(token) is None
    store.put(token, PHOTO, "image/jpeg")
    assert store.get(token) == StoredMedia(PHOTO, "image/jpeg")
    store.put(token, b"other", "image/png")
    assert store.get(token) == StoredMedia(b"other", "image/png")
    store.delete(token)
    assert store.get(token) is None
    store.delete(token)  # idempotent
    assert os.listdir(tmp_path / "media" / "photos") == []  # no temporary file left behind


def test_local_directory_is_private_and_made_on_first_use(tmp_path):
    directory = tmp_path / "var" / "media"
    store = LocalMediaStore(directory)
    assert not directory.exists()
    store.put("name", PHOTO, "image/jpeg")
    assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0
    assert (directory / "name").read_bytes() == PHOTO  # the bytes as they are, to open by hand


def test_local_missing_type_is_generic(tmp_path):
    store = LocalMediaStore(tmp_path)
    store.put("name", PHOTO, "image/jpeg")
    (tmp_path / "name.type").unlink()
    assert store.get("name") == StoredMedia(PHOTO, "application/octet-stream")


@pytest.mark.parametrize("name", TRAVERSALS)
def test_local_names_that_could_leave_the_directory_are_refused(tmp_path, name):
    store = LocalMediaStore(tmp_path / "media")
    (tmp_path / "escape").write_bytes(b"secret")
    for call in (
        lambda: store.put(name, PHOTO, "image/jpeg"),
        lambda: store.get(name),
        lambda: store.delete(name),
    ):
        with pytest.raises(ValueError):
            call()
    assert (tmp_path / "escape").read_bytes() == b"secret"
    assert not (tmp_path / "media").exists()


def test_local_disk_failure_is_unavailable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    store = LocalMediaStore(blocker / "media")  # a directory under a file: cannot be made
    with pytest.raises(MediaStoreUnavailable) as raised:
        store.put("name", PHOTO, "image/jpeg")
    assert isinstance(raised.value, MediaUnavailable)  # retried like a failed fetch


# --- S3 (moto's server over HTTP) -------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server():
    with moto_s3() as (_, endpoint):
        yield endpoint


def s3_settings(endpoint: str, **overrides) -> Settings:
    values = {
        "media_store": "s3",
        "media_s3_bucket": "photos",
        "media_s3_endpoint_url": endpoint,
        "media_s3_region": "us-east-1",
        "media_s3_prefix": "intake311",
        "media_s3_access_key_id": "testing",
        "media_s3_secret_access_key": "testing",
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
def s3_store(s3_server):
    store = S3MediaStore(s3_settings(s3_server))
    store.client.create_bucket(Bucket="photos")
    yield store
    for item in store.client.list_objects_v2(Bucket="photos").get("Contents", []):
        store.client.delete_object(Bucket="photos", Key=item["Key"])
    store.client.delete_bucket(Bucket="photos")


def test_s3_round_trip_keeps_the_content_type(s3_store):
    token = new_token()
    s3_store.put(token, PHOTO, "image/jpeg")
    assert s3_store.get(token) == StoredMedia(PHOTO, "image/jpeg")
    head = s3_store.client.head_object(Bucket="photos", Key=f"intake311/{token}")
    assert head["ContentType"] == "image/jpeg"  # what S3 itself would serve


def test_s3_missing_is_none_and_delete_is_idempotent(s3_store):
    token = new_token()
    assert s3_store.get(token) is None
    s3_store.put(token, PHOTO, "image/webp")
    s3_store.delete(token)
    assert s3_store.get(token) is None
    s3_store.delete(token)


def test_s3_names_are_checked_too(s3_store):
    with pytest.raises(ValueError):
        s3_store.put("../other", PHOTO, "image/jpeg")
    assert "Contents" not in s3_store.client.list_objects_v2(Bucket="photos")


def test_s3_without_its_bucket_is_unavailable(s3_server):
    store = S3MediaStore(s3_settings(s3_server, media_s3_bucket="no-such-bucket"))
    with pytest.raises(MediaStoreUnavailable, match="NoSuchBucket"):
        store.get(new_token())


def test_s3_down_is_unavailable_quickly():
    # A port nothing listens on: refused at once, a few retries, then MediaStoreUnavailable.
    store = S3MediaStore(s3_settings("http://127.0.0.1:9"))
    with pytest.raises(MediaStoreUnavailable):
        store.put(new_token(), PHOTO, "image/jpeg")
    with pytest.raises(MediaStoreUnavailable):
        store.get(new_token())


# --- the choice of store ----------------------------------------------------------------------


def test_media_store_is_local_by_default_and_kept_per_process(tmp_path):
    settings = Settings(_env_file=None, media_dir=str(tmp_path))
    store = media_store(settings)
    assert isinstance(store, LocalMediaStore) and store.directory == tmp_path
    assert media_store(settings) is store


def test_media_store_s3_is_built_once(s3_server):
    settings = s3_settings(s3_server)
    store = media_store(settings)
    assert isinstance(store, S3MediaStore)
    assert media_store(settings) is store


@pytest.mark.parametrize("value", ["gcs", "", "local "])
def test_media_store_setting_is_checked(value):
    if value == "local ":
        assert Settings(_env_file=None, media_store=value).media_store == "local"
        return
    with pytest.raises(ValidationError, match="MEDIA_STORE"):
        Settings(_env_file=None, media_store=value)


def test_an_s3_store_needs_a_bucket():
    with pytest.raises(ValidationError, match="MEDIA_S3_BUCKET"):
        Settings(_env_file=None, media_store="s3")


def test_media_store_refuses_an_unknown_kind_it_is_handed():
    settings = Settings(_env_file=None).model_copy(update={"media_store": "ftp"})
    with pytest.raises(ValueError, match="MEDIA_STORE"):
        media_store(settings)

"""GET and HEAD /media/<token> through the real app: kept photos served with their type and
caching headers, without credentials and without the database; anything else 404; a store
that fails 503."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from bot.media.photos import clean
from bot.media.store import S3MediaStore, media_store, new_token
from bot.settings import get_settings
from tests.processes import s3_server as moto_s3
from tests.test_media_photos import PITTSBURGH, exif_with, jpeg
from webhooks import create_app

PHOTO = b"\xff\xd8\xff\xe0 photo bytes \xff\xd9"


def app_client(monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return create_app({"TESTING": True}).test_client()


@pytest.fixture
def client(sqlite_env, monkeypatch, tmp_path):
    return app_client(monkeypatch, MEDIA_STORE="local", MEDIA_DIR=str(tmp_path / "media"))


def kept(data: bytes = PHOTO, content_type: str = "image/jpeg") -> str:
    token = new_token()
    media_store(get_settings()).put(token, data, content_type)
    return token


def test_a_kept_photo_is_served_with_its_headers(client):
    token = kept()
    response = client.get(f"/media/{token}")
    assert response.status_code == 200
    assert response.data == PHOTO
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Length"] == str(len(PHOTO))
    assert response.headers["Cache-Control"] == "private, max-age=86400, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == "inline"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.headers["ETag"] == '"' + hashlib.sha256(PHOTO).hexdigest()[:32] + '"'
    # The app's other headers still apply.
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in response.headers


def test_head_gives_the_headers_without_the_body(client):
    token = kept()
    response = client.head(f"/media/{token}")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["Content-Length"] == str(len(PHOTO))
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, max-age=86400, immutable"


def test_a_cache_revalidating_gets_304(client):
    token = kept()
    etag = client.get(f"/media/{token}").headers["ETag"]
    response = client.get(f"/media/{token}", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.data == b""


def test_a_stored_type_that_is_not_an_image_is_served_as_bytes(client):
    token = kept(b"<script>alert(1)</script>", "text/html")
    response = client.get(f"/media/{token}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_an_unknown_token_is_404_and_not_for_caches(client):
    response = client.get(f"/media/{new_token()}")
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_an_erased_photo_is_404(client):
    token = kept()
    media_store(get_settings()).delete(token)
    assert client.get(f"/media/{token}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/media/",
        "/media/short",
        "/media/../etc/passwd",
        "/media/..%2f..%2fetc%2fpasswd",
        "/media/%2e%2e",
        "/media/" + "a" * 65,
        "/media/" + "a" * 5000,
        "/media/" + "\u00e9" * 40,
        "/media/" + "a" * 31 + "%00",
        "/media/" + "a" * 32 + ".type",
        "/media/" + "a" * 32 + "/x",
    ],
)
def test_what_cannot_be_a_token_is_404(client, tmp_path, path):
    # Files that a traversal could reach, and one a ".type" suffix would name.
    (tmp_path / "media").mkdir(exist_ok=True)
    (tmp_path / "media" / ("a" * 32 + ".type")).write_text("image/jpeg")
    (tmp_path / "secret").write_bytes(b"secret")
    response = client.get(path)
    assert response.status_code == 404
    assert b"secret" not in response.data and b"image/jpeg" not in response.data


def test_no_credentials_and_no_database_needed(sqlite_env, monkeypatch, tmp_path):
    # The database unreachable: the route never asks it (the token is the store's key).
    client = app_client(
        monkeypatch,
        MEDIA_DIR=str(tmp_path),
        DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/nothing",
        ADMIN_TOKEN="admin-token-for-the-media-tests-0123456789",
    )
    token = kept()
    response = client.get(f"/media/{token}", headers={})
    assert response.status_code == 200 and response.data == PHOTO


def test_a_residents_photo_end_to_end_carries_no_exif(client):
    # A phone's JPEG with GPS, cleaned, kept, and opened at its public address.
    photo = clean(jpeg(exif=exif_with(PITTSBURGH)), get_settings())
    assert photo.gps is not None
    token = kept(photo.data, photo.content_type)
    response = client.get(f"/media/{token}")
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.data))
    assert image.format == "JPEG" and len(image.getexif()) == 0 and "exif" not in image.info


# --- S3 ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_s3() as (_, endpoint):
        yield endpoint


S3_ENV = {
    "MEDIA_STORE": "s3",
    "MEDIA_S3_BUCKET": "city-photos",
    "MEDIA_S3_REGION": "us-east-1",
    "MEDIA_S3_ACCESS_KEY_ID": "testing",
    "MEDIA_S3_SECRET_ACCESS_KEY": "testing",
}


def test_a_photo_in_s3_is_served(sqlite_env, monkeypatch, s3_endpoint):
    client = app_client(monkeypatch, **S3_ENV, MEDIA_S3_ENDPOINT_URL=s3_endpoint)
    store = media_store(get_settings())
    assert isinstance(store, S3MediaStore)
    store.client.create_bucket(Bucket="city-photos")
    token = kept(PHOTO, "image/png")
    response = client.get(f"/media/{token}")
    assert response.status_code == 200
    assert response.data == PHOTO and response.headers["Content-Type"] == "image/png"
    assert client.get(f"/media/{new_token()}").status_code == 404


def test_s3_down_is_503_never_500(sqlite_env, monkeypatch, caplog):
    client = app_client(monkeypatch, **S3_ENV, MEDIA_S3_ENDPOINT_URL="http://127.0.0.1:9")
    token = new_token()
    response = client.get(f"/media/{token}")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.headers["Cache-Control"] == "no-store"
    assert client.head(f"/media/{token}").status_code == 503
    assert token not in caplog.text  # the address is the photo's only secret


def test_a_missing_bucket_is_503(sqlite_env, monkeypatch, s3_endpoint):
    env = {**S3_ENV, "MEDIA_S3_BUCKET": "bucket-nobody-made"}
    client = app_client(monkeypatch, **env, MEDIA_S3_ENDPOINT_URL=s3_endpoint)
    assert client.get(f"/media/{new_token()}").status_code == 503

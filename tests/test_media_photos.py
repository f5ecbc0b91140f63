"""bot.media.photos.clean: GPS read from EXIF, every piece of metadata gone from what is kept,
orientation applied, and anything that is not a still photo (or is too large) refused."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from bot.media.photos import MAX_SIDE, clean, read_gps
from bot.media.types import CleanPhoto, MediaRefused
from bot.settings import Settings
from tests.fuzzing import figures, fuzz_settings

SETTINGS = Settings(_env_file=None)
# Pittsburgh, as a phone writes it: 40° 26' 46" N, 79° 58' 56" W.
LAT = 40 + 26 / 60 + 46 / 3600
LON = -(79 + 58 / 60 + 56 / 3600)
ORIENTATION, MAKE, BODY_SERIAL, DATETIME_ORIGINAL = 0x0112, 0x010F, 0xA431, 0x9003
EXIF_IFD, GPS_IFD = 0x8769, 0x8825


def exif_with(gps: dict | None = None, orientation: int | None = None) -> Image.Exif:
    """EXIF as a phone writes it: camera make, serial, time taken, GPS, orientation."""
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    taken = {BODY_SERIAL: "SN-0042", DATETIME_ORIGINAL: "2026:12:01 08:00:00"}
    exif.get_ifd(EXIF_IFD).update(taken)
    if gps is not None:
        exif.get_ifd(GPS_IFD).update(gps)
    if orientation is not None:
        exif[ORIENTATION] = orientation
    return exif


PITTSBURGH = {1: "N", 2: (40.0, 26.0, 46.0), 3: "W", 4: (79.0, 58.0, 56.0)}


def jpeg(size=(64, 48), exif: Image.Exif | None = None, color=(200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", exif=exif or Image.Exif(), **save)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (its pixel data is a few bytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def reopened(photo: CleanPhoto) -> Image.Image:
    image = Image.open(io.BytesIO(photo.data))
    image.load()
    return image


def assert_no_metadata(photo: CleanPhoto) -> None:
    image = reopened(photo)
    assert image.format == "JPEG"
    assert len(image.getexif()) == 0
    assert not image.getexif().get_ifd(GPS_IFD)
    for key in ("exif", "xmp", "icc_profile", "comment", "photoshop", "adobe"):
        assert key not in image.info, key
    for marker in (b"Exif", b"SN-0042", b"PhoneMaker", b"2026:12:01", b"http://ns.adobe.com"):
        assert marker not in photo.data


def test_gps_is_read_and_every_piece_of_metadata_is_gone():
    original = jpeg(exif=exif_with(PITTSBURGH), icc_profile=b"\x00" * 200, comment=b"my house")
    assert b"SN-0042" in original and b"my house" in original  # what must not survive
    photo = clean(original, SETTINGS)
    assert photo.gps == pytest.approx((LAT, LON))
    assert photo.content_type == "image/jpeg"
    assert (photo.width, photo.height) == (64, 48)
    assert_no_metadata(photo)
    assert b"my house" not in photo.data
    assert reopened(photo).getpixel((32, 24)) == pytest.approx((200, 30, 30), abs=8)


def test_xmp_is_dropped():
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://ns.adobe.com">'
    xmp += b"<exif:GPSLatitude>40,26.7N</exif:GPSLatitude></rdf:RDF></x:xmpmeta>"
    original = jpeg(xmp=xmp)
    assert b"GPSLatitude" in original
    photo = clean(original, SETTINGS)
    assert b"GPSLatitude" not in photo.data
    assert_no_metadata(photo)


def test_southern_and_eastern_hemispheres_and_byte_refs():
    gps = {1: b"S\x00", 2: (33.0, 52.0, 4.0), 3: "E", 4: (151.0, 12.5, 0.0)}
    photo = clean(jpeg(exif=exif_with(gps)), SETTINGS)
    assert photo.gps == pytest.approx((-(33 + 52 / 60 + 4 / 3600), 151 + 12.5 / 60))


def test_no_gps_when_there_is_none():
    assert clean(jpeg(exif=exif_with()), SETTINGS).gps is None
    assert clean(jpeg(), SETTINGS).gps is None


def test_orientation_is_applied():
    # Orientation 6: the camera was turned; the stored pixels must be rotated to stand upright.
    image = Image.new("RGB", (20, 10), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 10, 10))  # left half red, right half blue
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif_with(orientation=6), quality=95)
    photo = clean(out.getvalue(), SETTINGS)
    assert (photo.width, photo.height) == (10, 20)
    upright = reopened(photo)
    assert upright.size == (10, 20)
    # Rotated 90° clockwise: the left (red) half is now on top.
    assert upright.getpixel((5, 3))[0] > 200 and upright.getpixel((5, 16))[2] > 200
    assert_no_metadata(photo)


def test_a_transparent_png_is_flattened_on_white():
    image = Image.new("RGBA", (30, 30), (0, 0, 0, 0))
    image.paste((0, 128, 0, 255), (0, 0, 15, 30))
    out = io.BytesIO()
    image.save(out, "PNG")
    photo = clean(out.getvalue(), SETTINGS)
    flat = reopened(photo)
    assert flat.mode == "RGB" and flat.size == (30, 30)
    assert flat.getpixel((25, 15)) == pytest.approx((255, 255, 255), abs=4)
    assert flat.getpixel((5, 15)) == pytest.approx((0, 128, 0), abs=8)


@pytest.mark.parametrize(
    ("kind", "mode"), [("WEBP", "RGB"), ("GIF", "P"), ("PNG", "L"), ("PNG", "P"), ("JPEG", "CMYK")]
)
def test_other_formats_and_modes_are_kept(kind, mode):
    out = io.BytesIO()
    Image.new(mode, (40, 30)).save(out, kind)
    photo = clean(out.getvalue(), SETTINGS)
    assert (photo.width, photo.height) == (40, 30)
    assert reopened(photo).mode == "RGB"


def test_an_animated_gif_keeps_its_first_frame():
    frames = [Image.new("RGB", (16, 16), color) for color in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    first = reopened(clean(out.getvalue(), SETTINGS)).getpixel((8, 8))
    assert first[0] > 200 and first[2] < 60


def test_a_large_photo_is_scaled_down_to_the_longest_side():
    photo = clean(jpeg(size=(MAX_SIDE * 2 + 100, 1000)), SETTINGS)
    assert photo.width == MAX_SIDE
    assert photo.height == pytest.approx(1000 * MAX_SIDE / (MAX_SIDE * 2 + 100), abs=2)


@pytest.mark.parametrize("mode", ["RGBA", "P", "1"])
def test_a_large_png_is_scaled_down_too(mode):
    out = io.BytesIO()
    Image.new(mode, (200, MAX_SIDE + 900)).save(out, "PNG")
    photo = clean(out.getvalue(), SETTINGS)
    assert (photo.width, photo.height) == (
        pytest.approx(200 * MAX_SIDE / (MAX_SIDE + 900), abs=1),
        MAX_SIDE,
    )


def test_a_multi_picture_jpeg_keeps_its_first_picture():
    pictures = [Image.new("RGB", (24, 16), color) for color in ((0, 200, 0), (200, 0, 0))]
    out = io.BytesIO()
    pictures[0].save(out, "MPO", save_all=True, append_images=pictures[1:])
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"
    first = reopened(clean(out.getvalue(), SETTINGS)).getpixel((12, 8))
    assert first[1] > 150 and first[0] < 60


def tiff() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "TIFF")
    return out.getvalue()


def bmp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "BMP")
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>',
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(40),
        random.Random(17).randbytes(5000),
        b"\xff\xd8\xff",
        jpeg()[:300],  # truncated in its scan
        jpeg()[: len(jpeg()) // 2],
        png_header(20, 20)[:-20],
        tiff(),  # Pillow reads these, but no phone sends them: not tried at all
        bmp(),
    ],
    ids=[
        "html",
        "svg",
        "pdf",
        "zip",
        "random",
        "jpeg-magic",
        "jpeg-300",
        "jpeg-half",
        "png-cut",
        "tiff",
        "bmp",
    ],
)
def test_what_is_not_a_photo_is_refused(data):
    with pytest.raises(MediaRefused):
        clean(data, SETTINGS)


def test_an_empty_file_is_refused():
    with pytest.raises(MediaRefused, match="empty"):
        clean(b"", SETTINGS)


def test_a_file_over_the_byte_limit_is_refused_unread():
    settings = Settings(_env_file=None, media_max_bytes=2048)
    big = jpeg(size=(400, 400), color=(1, 2, 3), quality=100)
    big += b"\x00" * max(0, 2049 - len(big))
    with pytest.raises(MediaRefused, match="2048 bytes"):
        clean(big, settings)


@pytest.mark.parametrize(("width", "height"), [(50_000, 50_000), (8000, 8000), (1, 2**31 - 1)])
def test_too_many_pixels_are_refused_before_decoding(width, height):
    bomb = png_header(width, height)
    assert len(bomb) < 200
    # "pixels", not "unreadable": refused from the header, before the (absent) data is decoded.
    with pytest.raises(MediaRefused, match="pixels"):
        clean(bomb, SETTINGS)


def test_the_pixel_limit_is_the_setting():
    settings = Settings(_env_file=None, media_max_pixels=10_000)
    assert clean(jpeg(size=(100, 100)), settings).width == 100
    with pytest.raises(MediaRefused, match="10000 pixels"):
        clean(jpeg(size=(101, 100)), settings)


def test_pillows_own_bomb_warning_is_a_refusal(monkeypatch):
    # With MEDIA_MAX_PIXELS above Pillow's limit, Pillow's warning must not let it through.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    with pytest.raises(MediaRefused, match="pixels"):
        clean(jpeg(size=(80, 80)), SETTINGS)


# --- malformed EXIF: never an error, just no GPS ----------------------------------------------

NAN = IFDRational(1, 0)
BAD_GPS = {
    "zero denominator": {**PITTSBURGH, 2: (NAN, 26.0, 46.0)},
    "zero denominator seconds": {**PITTSBURGH, 4: (79.0, 58.0, IFDRational(5, 0))},
    "string degrees": {**PITTSBURGH, 2: "40 26 46"},
    "bytes degrees": {**PITTSBURGH, 2: b"\x01\x02"},
    "string parts": {**PITTSBURGH, 2: ("40", "26", "46")},
    "no latitude ref": {k: v for k, v in PITTSBURGH.items() if k != 1},
    "no longitude ref": {k: v for k, v in PITTSBURGH.items() if k != 3},
    "unknown ref": {**PITTSBURGH, 1: "X"},
    "numeric ref": {**PITTSBURGH, 3: 7},
    "no latitude": {k: v for k, v in PITTSBURGH.items() if k != 2},
    "empty tuple": {**PITTSBURGH, 2: ()},
    "four parts": {**PITTSBURGH, 2: (1.0, 2.0, 3.0, 4.0)},
    "latitude over 90": {**PITTSBURGH, 2: (91.0, 0.0, 0.0)},
    "longitude over 180": {**PITTSBURGH, 4: (180.0, 30.0, 0.0)},
    "negative degrees": {**PITTSBURGH, 2: (-40.0, 0.0, 0.0)},
    "minutes 60": {**PITTSBURGH, 2: (40.0, 60.0, 0.0)},
    "infinite": {**PITTSBURGH, 2: (float("inf"), 0.0, 0.0)},
    "null island": {1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)},
    "void fix": {**PITTSBURGH, 9: "V"},
    "none": {**PITTSBURGH, 2: None},
    "nested": {**PITTSBURGH, 2: ((1, 2), (3, 4), (5, 6))},
    "dict": {**PITTSBURGH, 4: {"a": 1}},
    "huge int": {**PITTSBURGH, 2: (10**400, 0, 0)},
}


@pytest.mark.parametrize("gps", BAD_GPS.values(), ids=BAD_GPS.keys())
def test_malformed_gps_in_memory_is_no_gps(gps):
    image = Image.new("RGB", (4, 4))
    image.getexif().get_ifd(GPS_IFD).update(gps)
    assert read_gps(image) is None


def test_the_in_memory_shape_is_read_when_well_formed():
    image = Image.new("RGB", (4, 4))
    image.getexif().get_ifd(GPS_IFD).update({**PITTSBURGH, 2: (IFDRational(81, 2), 0, 0)})
    assert read_gps(image) == pytest.approx((40.5, LON))


IN_FILES = ["zero denominator", "latitude over 90", "no latitude ref", "unknown ref", "null island"]


@pytest.mark.parametrize("name", IN_FILES)
def test_malformed_gps_in_a_real_file_is_kept_as_a_photo_without_gps(name):
    photo = clean(jpeg(exif=exif_with(BAD_GPS[name])), SETTINGS)
    assert photo.gps is None
    assert_no_metadata(photo)


def test_an_exif_block_that_is_garbage_is_a_photo_without_gps():
    original = jpeg()
    garbage = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + bytes(range(256)) * 2
    segment = b"\xff\xe1" + struct.pack(">H", len(garbage) + 2) + garbage
    photo = clean(original[:2] + segment + original[2:], SETTINGS)
    assert photo.gps is None
    assert_no_metadata(photo)


def test_a_bad_orientation_keeps_the_photo():
    photo = clean(jpeg(size=(20, 10), exif=exif_with(orientation=99)), SETTINGS)
    assert (photo.width, photo.height) == (20, 10)


# --- fuzzing ----------------------------------------------------------------------------------


def assert_clean_or_refused(data: bytes) -> str:
    try:
        photo = clean(data, SETTINGS)
    except MediaRefused:
        return "refused"
    assert isinstance(photo, CleanPhoto)
    image = reopened(photo)
    assert image.size == (photo.width, photo.height)
    assert len(image.getexif()) == 0 and "exif" not in image.info
    return "kept"


def test_fuzz_random_bytes():
    with figures("media: random bytes as a photo") as kept:
        prefixes = st.sampled_from([b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF"])

        @fuzz_settings(300)
        @given(prefix=prefixes, body=st.binary(max_size=3000))
        def one(prefix, body):
            with kept.trying():
                kept.outcome(assert_clean_or_refused(prefix + body))

        one()


def encoded(kind: str, mode: str = "RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (21, 13), (10, 20, 30)[: len(mode)] if mode != "P" else 5).save(
        out, kind, **save
    )
    return out.getvalue()


SEED_PHOTOS = [
    jpeg(size=(48, 32), exif=exif_with(PITTSBURGH, orientation=6)),
    jpeg(size=(33, 17), exif=exif_with(PITTSBURGH), progressive=True),
    encoded("PNG", "RGBA", exif=exif_with(PITTSBURGH)),
    encoded("WEBP", exif=exif_with(PITTSBURGH)),
    encoded("GIF", "P"),
]


@st.composite
def mutated_photos(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEED_PHOTOS)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "flip", "set", "insert", "delete", "cut"]))
        if action == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0xD8, 0xD9, 0xE1]))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            del data[max(at, 4) :]
        if not data:
            break
    return bytes(data)


def test_fuzz_mutated_photos():
    with figures("media: mutated photos with EXIF") as kept:

        @fuzz_settings(300)
        @given(data=mutated_photos())
        def one(data):
            with kept.trying():
                kept.outcome(assert_clean_or_refused(data))

        one()


@pytest.mark.parametrize("kind", ["PNG", "WEBP"])
def test_gps_is_read_from_png_and_webp_too(kind):
    photo = clean(encoded(kind, exif=exif_with(PITTSBURGH)), SETTINGS)
    assert photo.gps == pytest.approx((LAT, LON))
    assert_no_metadata(photo)

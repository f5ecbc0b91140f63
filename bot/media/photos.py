"""A resident's photo made safe to keep: sniffed from its bytes, its EXIF GPS read, then
re-encoded as a JPEG that carries no metadata at all (no EXIF, XMP, ICC profile or comment:
no GPS, camera serial or timestamp), its EXIF orientation applied.

Only still images in formats residents' phones send are opened (JPEG and its multi-picture
MPO variant, PNG, WebP, GIF; of an animation the first frame); Pillow is told to try no other
decoder, so a PDF, SVG, HTML page, archive or exotic format is refused unread. The pixel count
is checked from the header before anything is decoded (a decompression bomb never expands).

Photos are scaled down to at most MAX_SIDE pixels on their long side: a crew needs to see the
pothole, not 48 megapixels, and the city's server and the store keep a few hundred kB a photo
rather than several MB. Colours are kept as the pixels hold them; an embedded colour profile
is dropped with the rest of the metadata (a wide-gamut photo looks slightly less saturated).
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Sequence
from typing import Any

from PIL import (  # importing a plugin registers its decoder, so `formats` may name it
    GifImagePlugin,
    Image,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from bot.media.types import CleanPhoto, MediaRefused
from bot.settings import Settings

# The decoders Pillow may try, by its format names; nothing else is ever opened. (A
# multi-picture JPEG opens through the JPEG decoder, as format "MPO": its first picture.)
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
_PLUGINS = (JpegImagePlugin, PngImagePlugin, WebPImagePlugin, GifImagePlugin)
MAX_SIDE = 2560
JPEG_QUALITY = 85
GPS_IFD = 0x8825
GPS_STATUS, GPS_LATITUDE_REF, GPS_LATITUDE, GPS_LONGITUDE_REF, GPS_LONGITUDE = 9, 1, 2, 3, 4
WHITE = (255, 255, 255)
# Modes Pillow resizes with LANCZOS as they are (RGBA and LA premultiplied); others converted first.
RESIZABLE = ("RGB", "RGBA", "L", "LA")


def clean(data: bytes, settings: Settings) -> CleanPhoto:
    """The photo in `data` re-encoded as a metadata-free JPEG, with where its EXIF says it was
    taken; MediaRefused when it is not a still image we open, or is too large."""
    if not data:
        raise MediaRefused("empty file")
    if len(data) > settings.media_max_bytes:
        raise MediaRefused(f"larger than {settings.media_max_bytes} bytes")
    with warnings.catch_warnings():
        # Pillow's complaints about a hostile file's EXIF are noise; its own bomb check warns
        # below twice its limit: a refusal here, not a warning.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                width, height = image.size
                if width < 1 or height < 1 or width * height > settings.media_max_pixels:
                    raise MediaRefused(f"more than {settings.media_max_pixels} pixels")
                gps = read_gps(image)
                photo = _reencode(image)
        except MediaRefused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise MediaRefused("too many pixels") from exc
        except Image.UnidentifiedImageError as exc:
            raise MediaRefused("not an image we accept") from exc
        except Exception as exc:
            # Truncated, corrupt or hostile data makes Pillow raise almost anything (OSError,
            # ValueError, SyntaxError, struct.error, EOFError...): all mean "not a usable photo".
            raise MediaRefused("unreadable image") from exc
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return CleanPhoto(
        data=out.getvalue(),
        content_type="image/jpeg",
        width=photo.width,
        height=photo.height,
        gps=gps,
    )


def _reencode(image: Image.Image) -> Image.Image:
    """The first frame, upright, in RGB (transparency on white), at most MAX_SIDE a side, as a
    fresh image that carries none of the original's metadata. Full-size pixels are held once:
    turned and scaled in place, converted only when small (or when resizing needs it)."""
    image.seek(0)
    if image.format in ("JPEG", "MPO"):
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 where that fits
    image.load()
    with contextlib.suppress(Exception):  # a malformed orientation: keep it as it was taken
        ImageOps.exif_transpose(image, in_place=True)
    if image.mode not in RESIZABLE:
        image = image.convert("RGBA" if _transparent(image) else "RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    rgb = _flatten(image)
    fresh = Image.new("RGB", rgb.size, WHITE)
    fresh.paste(rgb)
    return fresh


def _transparent(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )


def _flatten(image: Image.Image) -> Image.Image:
    """`image` in RGB; transparent parts white."""
    if not _transparent(image):
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def read_gps(image: Image.Image) -> tuple[float, float] | None:
    """(latitude, longitude) from the image's EXIF GPS tags; None when absent, void, malformed,
    (0, 0) or off the globe. Never raises."""
    try:
        gps = image.getexif().get_ifd(GPS_IFD)
        if _text(gps.get(GPS_STATUS)) == "V":  # the receiver said the fix was void
            return None
        lat = _coordinate(gps.get(GPS_LATITUDE), gps.get(GPS_LATITUDE_REF), "N", "S", 90.0)
        lon = _coordinate(gps.get(GPS_LONGITUDE), gps.get(GPS_LONGITUDE_REF), "E", "W", 180.0)
    except Exception:
        return None
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return None
    return (lat, lon)


def _coordinate(value: Any, ref: Any, plus: str, minus: str, limit: float) -> float | None:
    """Degrees from EXIF's (degrees, minutes, seconds) and its hemisphere letter, or None."""
    sign = {plus: 1.0, minus: -1.0}.get(_text(ref) or "")
    if sign is None:
        return None  # no hemisphere: the sign is unknown, and a wrong one is worse than none
    parts = _numbers(value)
    if parts is None or not 1 <= len(parts) <= 3:
        return None
    degrees, minutes, seconds = (list(parts) + [0.0, 0.0])[:3]
    if degrees < 0 or not 0 <= minutes < 60 or not 0 <= seconds < 60:
        return None
    result = degrees + minutes / 60 + seconds / 3600
    if result > limit:
        return None
    return sign * result


def _numbers(value: Any) -> list[float] | None:
    """EXIF rationals (or numbers) as finite floats; None if any is not one."""
    if isinstance(value, (str, bytes)) or value is None:
        return None
    items: Sequence[Any] = value if isinstance(value, (tuple, list)) else (value,)
    numbers = []
    for item in items:
        if isinstance(item, (str, bytes, bool)):
            return None
        try:
            number = float(item)  # an IFDRational with a zero denominator is nan
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return None
        if not math.isfinite(number):
            return None
        numbers.append(number)
    return numbers


def _text(value: Any) -> str | None:
    """An EXIF ASCII tag's letter(s), upper case, without padding or NULs."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 ").upper() or None

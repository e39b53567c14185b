"""What an evidence file is, judged from its bytes (never its name or Content-Type), and
the metadata that could give its sender away.

Photos (JPEG, PNG, WebP) are opened with Pillow: location (EXIF GPS) and author fields
(EXIF Artist, Copyright, XPAuthor; XMP; PNG text) are looked for and, when the reporter
asks, the photo is saved again without any of them, turned upright first since its
orientation tag goes too. Documents and recordings are only flagged, from markers in the
stream as it passes (a PDF's /Author, an Office file's docProps/core.xml, a video's
location atom ©xyz): they are stored as sent, and the reporter is told so.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError

#: how many first bytes the type is judged from (filetype reads no more)
SNIFF_BYTES: Final = 8192
#: a photo larger than this many pixels is not decoded to strip it (a decompression bomb)
MAX_PIXELS: Final = 50_000_000


class Kind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"


_OFFICE = "application/vnd.openxmlformats-officedocument."
ACCEPTED: Final[dict[str, Kind]] = {
    "image/jpeg": Kind.PHOTO,
    "image/png": Kind.PHOTO,
    "image/webp": Kind.PHOTO,
    "video/mp4": Kind.VIDEO,
    "video/x-m4v": Kind.VIDEO,
    "video/quicktime": Kind.VIDEO,
    "video/3gpp": Kind.VIDEO,
    "video/webm": Kind.VIDEO,
    "audio/mpeg": Kind.AUDIO,
    "audio/mp4": Kind.AUDIO,
    "audio/aac": Kind.AUDIO,
    "audio/amr": Kind.AUDIO,
    "audio/ogg": Kind.AUDIO,
    "audio/x-wav": Kind.AUDIO,
    "application/pdf": Kind.DOCUMENT,
    "application/msword": Kind.DOCUMENT,
    "application/vnd.ms-excel": Kind.DOCUMENT,
    _OFFICE + "wordprocessingml.document": Kind.DOCUMENT,
    _OFFICE + "spreadsheetml.sheet": Kind.DOCUMENT,
    _OFFICE + "presentationml.presentation": Kind.DOCUMENT,
}
#: the ending a file handed out is named with, by the type judged from its bytes (so the
#: name says what it is, and a viewer opens it as that and nothing else)
EXTENSIONS: Final[dict[str, str]] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/x-m4v": ".m4v",
    "video/quicktime": ".mov",
    "video/3gpp": ".3gp",
    "video/webm": ".webm",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/aac": ".aac",
    "audio/amr": ".amr",
    "audio/ogg": ".ogg",
    "audio/x-wav": ".wav",
    "application/pdf": ".pdf",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
    _OFFICE + "wordprocessingml.document": ".docx",
    _OFFICE + "spreadsheetml.sheet": ".xlsx",
    _OFFICE + "presentationml.presentation": ".pptx",
}
#: the accepted types in words, for the refusal (zh, en)
ACCEPTED_WORDS: Final = (
    "照片（JPEG、PNG、WebP）、视频（MP4、MOV、3GP、WebM）、录音（MP3、M4A、AAC、AMR、OGG、WAV）、"
    "文档（PDF、Word、Excel、PowerPoint）",
    "photos (JPEG, PNG, WebP), videos (MP4, MOV, 3GP, WebM), recordings (MP3, M4A, AAC, AMR,"
    " OGG, WAV), documents (PDF, Word, Excel, PowerPoint)",
)

# EXIF tags that say where or by whom: GPSInfo (an IFD), Artist, Copyright, XPAuthor,
# CameraOwnerName, BodySerialNumber.
_GPS_IFD: Final = 0x8825
_AUTHOR_TAGS: Final = (0x013B, 0x8298, 0x9C9D, 0xA430, 0xA431)
_INFO_KEYS: Final = ("xmp", "XML:com.adobe.xmp", "Author", "Copyright", "Comment")
_MARKERS: Final[dict[Kind, tuple[bytes, ...]]] = {
    Kind.DOCUMENT: (b"/Author", b"<dc:creator", b"docProps/core.xml"),
    Kind.VIDEO: (b"\xa9xyz", b"com.apple.quicktime.location"),
    Kind.AUDIO: (b"\xa9xyz", b"TPE1", b"\xa9ART"),
}


class FileRefused(Exception):
    """The file is not one intake keeps (its type from its bytes), or a photo cannot be
    read as the type it claims."""


def sniff(head: bytes) -> tuple[str, Kind]:
    """The media type and kind from the first bytes; FileRefused for anything else
    (programs, archives, scripts, unknown)."""
    guessed = filetype.guess(head)
    mime = guessed.mime if guessed is not None else ""
    kind = ACCEPTED.get(mime)
    if kind is None:
        raise FileRefused(mime or "unknown")
    return mime, kind


@dataclass(frozen=True)
class Photo:
    data: bytes
    metadata_found: bool
    stripped: bool


def inspect_photo(data: bytes, media_type: str, strip: bool) -> Photo:
    """Look for location and author metadata; without it when ``strip`` and any was found.
    CPU work: run it in a thread."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise FileRefused("too many pixels")
            found = _has_metadata(image)
            if not (strip and found):
                return Photo(data, found, stripped=False)
            return Photo(_without_metadata(image, media_type), found, stripped=True)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FileRefused(media_type) from exc


def _has_metadata(image: Image.Image) -> bool:
    exif = image.getexif()
    if exif.get_ifd(_GPS_IFD) or any(exif.get(tag) for tag in _AUTHOR_TAGS):
        return True
    return any(image.info.get(key) for key in _INFO_KEYS)


def _without_metadata(image: Image.Image, media_type: str) -> bytes:
    upright = ImageOps.exif_transpose(image)
    # Nothing of the original's info is handed to the encoder: no EXIF, XMP or text
    # chunks; the colour profile alone is kept, so the colours stay as they were.
    profile = image.info.get("icc_profile")
    upright.info = {}
    out = io.BytesIO()
    options: dict[str, object] = {"icc_profile": profile} if profile else {}
    if media_type == "image/jpeg":
        upright.save(out, format="JPEG", quality=95, **options)
    elif media_type == "image/webp":
        upright.save(out, format="WEBP", quality=95, **options)
    else:
        upright.save(out, format="PNG", **options)
    return out.getvalue()


class MarkerScan:
    """Whether any of the kind's metadata markers passes by, across chunk boundaries."""

    def __init__(self, kind: Kind) -> None:
        self._markers = _MARKERS.get(kind, ())
        self._overlap = max((len(m) for m in self._markers), default=1) - 1
        self._tail = b""
        self.found = False

    def feed(self, chunk: bytes) -> None:
        if self.found or not self._markers:
            return
        window = self._tail + chunk
        self.found = any(marker in window for marker in self._markers)
        self._tail = window[-self._overlap :] if self._overlap else b""

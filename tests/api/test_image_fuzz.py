"""Mutated PNG and JPEG files: whatever Pillow makes of a broken file, /api/images answers a 200
or a 4xx JSON error, never a 5xx.

The files are real (made with Pillow here, with EXIF metadata: an orientation tag and a few text
tags), and are mutated where a decoder trusts them: a PNG's chunks (their data flipped, cut or
swapped for random bytes, with the CRC fixed so the decoder reads on) and its eXIf chunk in
particular; a JPEG's EXIF segment (its TIFF structure flipped or cut, with the segment length
kept consistent) and its bytes anywhere. Seeded: the same 240 files every run.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable

import pytest
from api_testlib import ApiClient, strict_json
from PIL import Image

MUTATIONS_PER_KIND = 40
# Pillow warns about the corrupt EXIF it skips: expected here, and not what is tested.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL")


def exif_bytes() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees
    exif[0x010F] = "camera maker"
    exif[0x0110] = "model"
    exif[0x0131] = "software"
    return exif.tobytes()


def sample_image() -> Image.Image:
    im = Image.new("RGB", (24, 16), "white")
    im.paste((0, 0, 0), (8, 0, 16, 16))
    return im


def png_with_exif() -> bytes:
    buf = io.BytesIO()
    sample_image().save(buf, "PNG", exif=exif_bytes())
    return buf.getvalue()


def jpeg_with_exif() -> bytes:
    buf = io.BytesIO()
    sample_image().save(buf, "JPEG", exif=exif_bytes(), quality=90)
    return buf.getvalue()


# ----------------------------------------------------------------------------- PNG chunks
Chunk = tuple[bytes, bytes]  # (type, data)


def png_chunks(data: bytes) -> list[Chunk]:
    out, i = [], 8
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[i:i + 8])
        out.append((kind, data[i + 8:i + 8 + length]))
        i += 12 + length
    return out


def png_bytes(chunks: list[Chunk]) -> bytes:
    """A PNG with correct lengths and CRCs, so the decoder reads each chunk's data."""
    parts = [b"\x89PNG\r\n\x1a\n"]
    for kind, data in chunks:
        parts.append(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data)))
    return b"".join(parts)


def flipped(data: bytes, rng: random.Random, count: int = 3) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(count):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def mutate_png_chunk(base: bytes, rng: random.Random) -> bytes:
    chunks = png_chunks(base)
    i = rng.randrange(len(chunks))
    kind, data = chunks[i]
    how = rng.choice(["flip", "cut", "random", "drop", "repeat"])
    if how == "flip":
        chunks[i] = (kind, flipped(data, rng, rng.randint(1, 8)))
    elif how == "cut":
        chunks[i] = (kind, data[:rng.randrange(len(data) + 1)])
    elif how == "random":
        chunks[i] = (kind, rng.randbytes(rng.randint(0, 64)))
    elif how == "drop":
        del chunks[i]
    else:
        chunks.insert(i, chunks[i])
    return png_bytes(chunks)


def mutate_png_exif(base: bytes, rng: random.Random) -> bytes:
    chunks = png_chunks(base)
    i = next(j for j, (kind, _) in enumerate(chunks) if kind == b"eXIf")
    data = chunks[i][1]
    how = rng.choice(["cut", "flip", "random"])
    if how == "cut":
        data = data[:rng.randrange(len(data))]
    elif how == "flip":
        data = flipped(data, rng, rng.randint(1, 6))
    else:
        data = rng.choice([b"MM\x00*", b"II*\x00"]) + rng.randbytes(rng.randint(0, 40))
    chunks[i] = (b"eXIf", data)
    return png_bytes(chunks)


# ----------------------------------------------------------------------------- JPEG segments
def jpeg_exif_span(data: bytes) -> tuple[int, int]:
    """(start, end) of the APP1 Exif segment's payload (after its length field)."""
    i = data.index(b"\xff\xe1")
    length = struct.unpack(">H", data[i + 2:i + 4])[0]
    return i + 4, i + 2 + length


def mutate_jpeg_exif(base: bytes, rng: random.Random) -> bytes:
    start, end = jpeg_exif_span(base)
    payload = base[start:end]
    tiff = 6  # after b"Exif\0\0"
    if rng.random() < 0.5:
        payload = payload[:tiff] + flipped(payload[tiff:], rng, rng.randint(1, 6))
    else:
        payload = payload[:rng.randrange(tiff, len(payload))]
    return base[:start - 2] + struct.pack(">H", len(payload) + 2) + payload + base[end:]


def mutate_jpeg_anywhere(base: bytes, rng: random.Random) -> bytes:
    if rng.random() < 0.3:
        return base[:rng.randrange(2, len(base))]
    return base[:2] + flipped(base[2:], rng, rng.randint(1, 10))


KINDS: dict[str, tuple[Callable[[], bytes], Callable[[bytes, random.Random], bytes], str]] = {
    "png-chunks": (png_with_exif, mutate_png_chunk, "image/png"),
    "png-exif": (png_with_exif, mutate_png_exif, "image/png"),
    "png-bytes": (png_with_exif, lambda b, rng: b[:8] + flipped(b[8:], rng, rng.randint(1, 10)), "image/png"),
    "jpeg-exif": (jpeg_with_exif, mutate_jpeg_exif, "image/jpeg"),
    "jpeg-bytes": (jpeg_with_exif, mutate_jpeg_anywhere, "image/jpeg"),
    "jpeg-exif-then-bytes": (jpeg_with_exif, lambda b, rng: mutate_jpeg_anywhere(mutate_jpeg_exif(b, rng), rng),
                             "image/jpeg"),
}


def upload_fault(client: ApiClient, data: bytes, content_type: str) -> str | None:
    try:  # in process, an exception no handler took reaches the client (the server would send a 500)
        response = client.upload(data, content_type=content_type, height=6, width=6, channels=3)
    except Exception as e:
        return f"raised {e.__class__.__name__}: {str(e)[:200]}"
    if response.status_code == 200:
        return None
    if not 400 <= response.status_code < 500:
        return f"{response.status_code}: {response.text[:200]}"
    detail = strict_json(response.content).get("detail")
    return None if isinstance(detail, str) and detail else f"no detail: {response.text[:200]}"


def test_the_unmutated_files_are_read(client: ApiClient) -> None:
    for make, content_type in ((png_with_exif, "image/png"), (jpeg_with_exif, "image/jpeg")):
        response = client.upload(make(), content_type=content_type, height=6, width=6)
        assert response.status_code == 200, response.text
        assert response.json()["source"]["width"] == 24  # as stored; the EXIF rotation comes after


@pytest.mark.parametrize("kind", list(KINDS))
def test_mutated_files_never_make_a_server_error(client: ApiClient, kind: str) -> None:
    make, mutate, content_type = KINDS[kind]
    base = make()
    rng = random.Random(f"image-fuzz-{kind}")
    faults = []
    for n in range(MUTATIONS_PER_KIND):
        data = mutate(base, rng)
        problem = upload_fault(client, data, content_type)
        if problem:
            faults.append(f"#{n} ({len(data)} bytes): {problem}")
    assert not faults, f"{len(faults)} of {MUTATIONS_PER_KIND}:\n" + "\n".join(faults[:20])


def test_png_with_a_truncated_exif_chunk_is_a_422(client: ApiClient) -> None:
    """Pillow's exif_transpose raises struct.error on it: the file's fault, and the answer says so."""
    chunks = png_chunks(png_with_exif())
    chunks = [(kind, data[:6] if kind == b"eXIf" else data) for kind, data in chunks]
    response = client.upload(png_bytes(chunks), height=6, width=6)
    assert response.status_code == 422, response.text
    assert "could not be read" in response.json()["detail"]

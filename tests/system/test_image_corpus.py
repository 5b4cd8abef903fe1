"""A corpus of hostile and unusual images, all made here in memory (Pillow, or by hand where
Pillow will not write the file: interlaced PNG, bombs, bad CRCs, text-chunk bombs), replayed
through POST /api/images with 1 and 3 channels. Each answer is a 200 with a (C, 6, 6) input of
finite values in [0, 1], or a 4xx JSON error with a string detail: never a 5xx; each within
3 s; and the process's peak memory grows by less than 300 MB over the whole corpus.
"""

from __future__ import annotations

import io
import random
import resource
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from api_testlib import ApiClient, encode_image
from PIL import Image, PngImagePlugin
from system_testlib import check_answer

SECONDS = 3.0
MEMORY_MB = 300
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- hand-made PNGs
def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def ihdr(width: int, height: int, depth: int = 8, color: int = 0, interlace: int = 0) -> bytes:
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace))


def zero_png(width: int, height: int) -> bytes:
    """A real grayscale PNG of zeros, compressed row by row (never all in memory): a bomb
    when large (5000x5000 is 25 MB decoded from a ~25 kB file)."""
    z = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    parts = [z.compress(row) for _ in range(height)]
    idat = b"".join(parts) + z.flush()
    return PNG_SIGNATURE + ihdr(width, height) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def raw_png(width: int, height: int, depth: int, color: int, pixels: bytes) -> bytes:
    """A PNG from raw big-endian samples (filter 0 on every row)."""
    stride = len(pixels) // height
    rows = b"".join(b"\x00" + pixels[i * stride:(i + 1) * stride] for i in range(height))
    return (PNG_SIGNATURE + ihdr(width, height, depth, color) + png_chunk(b"IDAT", zlib.compress(rows))
            + png_chunk(b"IEND", b""))


def header_only_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (its data is a few zero rows)."""
    idat = zlib.compress(b"\x00" * 64)
    return PNG_SIGNATURE + ihdr(width, height) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def interlaced_png(im: Image.Image) -> bytes:
    """``im`` (L or RGB) as an Adam7-interlaced PNG (Pillow reads these but does not write them)."""
    arr = np.asarray(im)
    color = 0 if im.mode == "L" else 2
    raw = b""
    for x0, y0, dx, dy in ADAM7:
        sub = arr[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        for row in sub:
            raw += b"\x00" + row.tobytes()
    return (PNG_SIGNATURE + ihdr(im.width, im.height, 8, color, 1) + png_chunk(b"IDAT", zlib.compress(raw))
            + png_chunk(b"IEND", b""))


def ztxt_bomb_png(base: bytes, megabytes: int = 64) -> bytes:
    """``base`` (a PNG) with a zTXt chunk that inflates to ``megabytes`` MB of text, inserted before IEND."""
    z = zlib.compressobj(9)
    block = b"a" * (1 << 20)
    text = b"".join(z.compress(block) for _ in range(megabytes)) + z.flush()
    chunk_ = png_chunk(b"zTXt", b"Comment\x00\x00" + text)
    return base[:-12] + chunk_ + base[-12:]


def bad_crc_png(base: bytes) -> bytes:
    """``base`` with the IHDR chunk's CRC flipped."""
    data = bytearray(base)
    data[29] ^= 0xFF  # signature 8 + length 4 + type 4 + data 13 = 29: the first CRC byte
    return bytes(data)


def jpeg_with_size(base: bytes, width: int, height: int) -> bytes:
    """``base`` (a baseline or progressive JPEG) with its frame header claiming width x height."""
    data = bytearray(base)
    i = 2
    while i < len(data):
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        i += 2 + length
    raise AssertionError("no SOF marker")


# ----------------------------------------------------------------------------- images
def pattern(mode: str = "RGB", size: tuple[int, int] = (24, 16)) -> Image.Image:
    """An asymmetric picture: quadrants of different shades, so any flip or rotation shows."""
    w, h = size
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[: h // 2, : w // 2] = (250, 20, 20)
    arr[: h // 2, w // 2:] = (20, 250, 20)
    arr[h // 2:, : w // 2] = (20, 20, 250)
    arr[h // 2:, w // 2:] = (130, 130, 130)
    arr[0, 0] = (0, 0, 0)
    return Image.fromarray(arr, "RGB").convert(mode)


def apng(frames: int = 3) -> bytes:
    shades = [0, 128, 255]
    ims = [Image.new("L", (12, 12), shades[i % 3]) for i in range(frames)]
    return encode_image(ims[0], "PNG", save_all=True, append_images=ims[1:], duration=100, loop=0)


def animated_gif() -> bytes:
    ims = [Image.new("P", (12, 12), i) for i in range(3)]
    return encode_image(ims[0], "GIF", save_all=True, append_images=ims[1:], duration=100, loop=0)


def sixteen_bit(value: int) -> bytes:
    im = Image.new("I;16", (16, 16), value)
    return encode_image(im, "PNG")


def palette_transparent() -> bytes:
    im = Image.new("P", (12, 12), 0)
    im.putpalette([0, 0, 0] * 256)  # every index is black...
    return encode_image(im, "PNG", transparency=0)  # ...and index 0 fully transparent


def huge_text_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "x" * (1536 * 1024))  # 1.5 MiB tEXt: under the upload cap, over Pillow's chunk cap
    return encode_image(pattern("L"), "PNG", pnginfo=info)


def exif_bytes(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def random_bytes(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


def corpus() -> dict[str, Callable[[], bytes]]:
    """name -> a function making the file (made lazily, per test)."""
    png = encode_image(pattern(), "PNG")
    jpeg = encode_image(pattern(), "JPEG", quality=90)
    progressive = encode_image(pattern(), "JPEG", progressive=True, quality=90)
    cases: dict[str, Callable[[], bytes]] = {
        "zero-byte": lambda: b"",
        "one-byte": lambda: b"\x89",
        "png-signature-only": lambda: PNG_SIGNATURE,
        "broken-png-header": lambda: PNG_SIGNATURE + b"\x00\x00\x00\x0dIHDX" + b"\x00" * 17,
        "broken-jpeg-header": lambda: b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\xff" * 40,
        "png-bad-crc": lambda: bad_crc_png(png),
        "png-zero-width": lambda: header_only_png(0, 16),
        "1x1-png": lambda: encode_image(Image.new("L", (1, 1), 0), "PNG"),
        "1x1-jpeg": lambda: encode_image(Image.new("RGB", (1, 1), (255, 255, 255)), "JPEG"),
        "1x4096-png": lambda: encode_image(Image.new("L", (1, 4096), 255), "PNG"),
        "4096x4096-png-at-the-limit": lambda: zero_png(4096, 4096),
        "bomb-5000x5000-real": lambda: zero_png(5000, 5000),
        "bomb-12000x12000-header": lambda: header_only_png(12000, 12000),  # over Pillow's warning threshold
        "bomb-30000x30000-header": lambda: header_only_png(30000, 30000),  # over Pillow's error threshold
        "bomb-jpeg-65500x65500-header": lambda: jpeg_with_size(jpeg, 65500, 65500),
        "bomb-ztxt-64mb": lambda: ztxt_bomb_png(png),
        "huge-text-chunk": huge_text_png,
        "apng-3-frames": lambda: apng(3),
        "gif-animated": animated_gif,
        "gif-still": lambda: encode_image(Image.new("P", (8, 8), 1), "GIF"),
        "bmp": lambda: encode_image(pattern(), "BMP"),
        "tiff": lambda: encode_image(pattern(), "TIFF"),
        "webp": lambda: encode_image(pattern(), "WEBP"),
        "ico": lambda: encode_image(pattern(size=(16, 16)), "ICO"),
        "svg-text": lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "16-bit-gray-white": lambda: sixteen_bit(65535),
        "16-bit-gray-mid": lambda: sixteen_bit(32768),
        "palette-transparent": palette_transparent,
        "palette-opaque": lambda: encode_image(pattern("P"), "PNG"),
        "cmyk-jpeg": lambda: encode_image(pattern("CMYK"), "JPEG"),
        "la-png": lambda: encode_image(pattern("LA"), "PNG"),
        "rgba-png-transparent": lambda: encode_image(Image.new("RGBA", (10, 10), (0, 0, 0, 0)), "PNG"),
        "rgba-png-half": lambda: encode_image(Image.new("RGBA", (10, 10), (0, 0, 0, 128)), "PNG"),
        "1-bit-png": lambda: encode_image(pattern("1"), "PNG"),
        "rgb-16-bit-png": lambda: raw_png(8, 8, 16, 2, struct.pack(">H", 65535) * (8 * 8 * 3)),
        "gray-alpha-16-bit-png": lambda: raw_png(8, 8, 16, 4, struct.pack(">HH", 0, 0) * (8 * 8)),
        "progressive-jpeg": lambda: progressive,
        "interlaced-png-rgb": lambda: interlaced_png(pattern()),
        "interlaced-png-gray": lambda: interlaced_png(pattern("L", (13, 7))),
        "jpeg-garbage-appended": lambda: jpeg + random_bytes(1, 4096),
        "png-garbage-appended": lambda: png + b"PK\x03\x04" + random_bytes(2, 4096),  # a zip trailer
        "polyglot-png-header-junk": lambda: PNG_SIGNATURE + random_bytes(3, 2048),
        "polyglot-jpeg-header-junk": lambda: b"\xff\xd8\xff" + random_bytes(4, 2048),
        "html-with-png-name": lambda: b"<html><body>not an image</body></html>",
    }
    for k in range(2, 9):
        cases[f"exif-{k}-jpeg"] = (lambda k=k: encode_image(pattern(), "JPEG", exif=exif_bytes(k)))
    for cut in (8, 16, 33, 60, len(png) // 2, len(png) - 12, len(png) - 1):
        cases[f"png-cut-{cut}"] = (lambda cut=cut: png[:cut])
    for cut in (2, 20, 200, len(jpeg) // 2, len(jpeg) - 2):
        cases[f"jpeg-cut-{cut}"] = (lambda cut=cut: jpeg[:cut])
    for cut in (len(progressive) // 3, len(progressive) - 2):
        cases[f"progressive-jpeg-cut-{cut}"] = (lambda cut=cut: progressive[:cut])
    for seed, n in ((10, 1), (11, 100), (12, 5000), (13, 300_000)):
        cases[f"random-{seed}-{n}"] = (lambda seed=seed, n=n: random_bytes(seed, n))
    return cases


CORPUS = corpus()
# Files that must be accepted (the rest may be accepted or refused with a 4xx).
MUST_DECODE = {"1x1-png", "1x1-jpeg", "1x4096-png", "4096x4096-png-at-the-limit", "apng-3-frames",
               "16-bit-gray-white", "16-bit-gray-mid", "palette-transparent", "palette-opaque", "cmyk-jpeg",
               "la-png", "rgba-png-transparent", "rgba-png-half", "1-bit-png", "rgb-16-bit-png",
               "gray-alpha-16-bit-png", "progressive-jpeg",
               "interlaced-png-rgb", "interlaced-png-gray", "jpeg-garbage-appended", "png-garbage-appended",
               *(f"exif-{k}-jpeg" for k in range(2, 9))}
# Files that must be refused. A refusal is a 415 for what is not a PNG or JPEG at all, and a 422
# for an empty file or one that starts like a PNG or JPEG (corrupt, truncated, a bomb): the
# message must not claim a broken PNG is "not a PNG".
MUST_REFUSE = {"zero-byte", "one-byte", "png-signature-only", "broken-png-header", "broken-jpeg-header",
               "png-bad-crc", "png-zero-width", "bomb-5000x5000-real", "bomb-12000x12000-header",
               "bomb-30000x30000-header", "bomb-jpeg-65500x65500-header", "bomb-ztxt-64mb", "gif-animated",
               "gif-still", "bmp", "tiff", "webp", "ico", "svg-text", "html-with-png-name",
               "polyglot-png-header-junk", "polyglot-jpeg-header-junk", "png-cut-8", "png-cut-16", "png-cut-33",
               "jpeg-cut-2", "jpeg-cut-20", "jpeg-cut-200", *(n for n in CORPUS if n.startswith("random-"))}
SIGNATURES = (PNG_SIGNATURE, b"\xff\xd8")


def refusal(data: bytes) -> tuple[int, tuple[str, ...]]:
    """The status and (any of) the words a refusal of ``data`` must carry."""
    if not data:
        return 422, ("empty",)
    if data.startswith(SIGNATURES):
        return 422, ("corrupt", "pixels")
    return 415, ("PNG or JPEG",)


# Transparent is white paper (alpha over white); a 16-bit white is 1.0 whatever its mode.
ALL_WHITE = {"palette-transparent", "rgba-png-transparent", "gray-alpha-16-bit-png", "rgb-16-bit-png"}


@pytest.fixture(scope="module")
def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def upload(client: ApiClient, data: bytes, channels: int, name: str) -> tuple[int, dict]:
    response = client.upload(data, filename=f"{name}.png", content_type="image/png", channels=channels)
    assert client.last_seconds < SECONDS, f"{name}: took {client.last_seconds:.2f} s"
    return response.status_code, check_answer(response, name)


def check_input_array(body: dict, channels: int) -> np.ndarray:
    arr = np.asarray(body["input"], dtype=np.float64)
    assert arr.shape == (channels, 6, 6), arr.shape
    assert np.isfinite(arr).all() and arr.min() >= 0.0 and arr.max() <= 1.0
    assert body["channels"] == channels and body["height"] == 6 and body["width"] == 6
    return arr


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_image(client: ApiClient, peak_rss: int, name: str, channels: int) -> None:
    data = CORPUS[name]()
    status, body = upload(client, data, channels, name)
    if name in MUST_DECODE:
        assert status == 200, (name, body)
    if name in MUST_REFUSE:
        assert status != 200, name
    if status != 200:
        want, words = refusal(data)
        assert status == want, (name, status, body)
        assert any(w in body["detail"] for w in words), (name, body)
    if status == 200:
        arr = check_input_array(body, channels)
        if name == "apng-3-frames":  # the first frame (black), and the animation is reported
            assert body["source"]["frames"] == 3 and arr.max() == 0.0
        if name in ALL_WHITE:
            assert arr.min() == 1.0, arr
        if name == "16-bit-gray-white":
            assert np.allclose(arr, 1.0)
        if name == "16-bit-gray-mid":  # scaled from 16 bits, not clipped at 255
            assert np.allclose(arr, 32768 / 65535, atol=1e-6)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_rss) / 1024
    assert grown_mb < MEMORY_MB, f"peak memory grew by {grown_mb:.0f} MB"


# Display transform of each EXIF orientation (the TIFF/EXIF table) and its inverse.
EXIF_DISPLAY = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}
INVERSE = {**{k: v for k, v in EXIF_DISPLAY.items() if k not in (6, 8)},
           6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


@pytest.mark.parametrize("orientation", range(2, 9))
def test_exif_orientation_is_applied(client: ApiClient, orientation: int) -> None:
    """A PNG stored rotated/flipped with the EXIF tag that undoes it reads exactly like the upright
    picture (lossless, so the two answers are identical)."""
    upright = pattern(size=(24, 16))
    stored = upright.transpose(INVERSE[orientation])
    assert stored.transpose(EXIF_DISPLAY[orientation]).tobytes() == upright.tobytes()
    for channels in (1, 3):
        form = {"channels": channels, "height": 8, "width": 12}
        want = client.upload(encode_image(upright, "PNG"), **form)
        got = client.upload(encode_image(stored, "PNG", exif=exif_bytes(orientation)), **form)
        assert want.status_code == got.status_code == 200, got.text
        assert got.json()["input"] == want.json()["input"], orientation
        plain = client.upload(encode_image(stored, "PNG"), **form)  # no tag: stays as stored
        assert plain.json()["input"] != want.json()["input"]


def test_interlaced_png_reads_like_the_plain_one(client: ApiClient) -> None:
    im = pattern(size=(24, 16))
    for channels in (1, 3):
        a = client.upload(interlaced_png(im), channels=channels, height=8, width=12)
        b = client.upload(encode_image(im, "PNG"), channels=channels, height=8, width=12)
        assert a.status_code == b.status_code == 200, a.text
        assert a.json()["input"] == b.json()["input"]


def test_the_server_still_answers_after_the_corpus(client: ApiClient) -> None:
    assert client.get("/api/health").status_code == 200
    response = client.upload(encode_image(Image.new("L", (6, 6), 0), "PNG"))
    assert response.status_code == 200 and np.asarray(response.json()["input"]).max() == 0.0


def test_corpus_is_what_it_claims() -> None:
    """The hand-made files are what they claim: bombs are tiny files, the APNG has 3 frames."""
    assert len(CORPUS["bomb-5000x5000-real"]()) < 100_000
    assert len(CORPUS["bomb-30000x30000-header"]()) < 1000
    assert len(CORPUS["bomb-ztxt-64mb"]()) < 200_000
    assert len(CORPUS["huge-text-chunk"]()) < 2 * 1024 * 1024
    with Image.open(io.BytesIO(CORPUS["apng-3-frames"]())) as im:
        assert im.format == "PNG" and im.n_frames == 3
    with Image.open(io.BytesIO(CORPUS["interlaced-png-rgb"]())) as im:
        assert im.info.get("interlace") == 1
    with Image.open(io.BytesIO(CORPUS["cmyk-jpeg"]())) as im:
        assert im.mode == "CMYK"
    with Image.open(io.BytesIO(CORPUS["16-bit-gray-mid"]())) as im:
        assert im.mode.startswith("I")
    with Image.open(io.BytesIO(CORPUS["progressive-jpeg"]())) as im:
        assert im.info.get("progressive") or im.info.get("progression")
    with Image.open(io.BytesIO(CORPUS["exif-6-jpeg"]())) as im:
        assert im.getexif().get(0x0112) == 6

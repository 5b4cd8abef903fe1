"""POST /api/images: a PNG or JPEG becomes an input array for the network.

EXIF-rotated, alpha composited over white (a transparent drawing looks as it does on
screen), converted to grayscale (Pillow's "L") unless 3 channels are asked, downscaled by
area averaging (Pillow's BOX filter) and scaled to [0, 1]. Decoding runs in a worker thread.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, File, Form, Response, UploadFile
from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool

from app.arrays import json_response
from app.errors import ApiError
from app.schemas import SERVER_ERRORS, ErrorResponse, ImageResponse
from app.settings import limits, settings

router = APIRouter(prefix="/api", tags=["images"])

SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N", "I"}
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8")  # how every PNG and every JPEG starts


def unreadable(e: Exception) -> ApiError:
    """Pillow raises many kinds of error on a broken file (OSError, ValueError, SyntaxError,
    EOFError, struct.error from EXIF it cannot parse, ...): each is the file's fault, a 422."""
    return ApiError(422, f"the image file could not be read ({e.__class__.__name__}): it may be truncated "
                         "or corrupt, or its metadata (EXIF) is broken")


def decode(data: bytes, height: int, width: int, channels: int, invert: bool) -> dict[str, Any]:
    if not data:
        raise ApiError(422, "the uploaded file is empty; send a PNG or JPEG image")
    try:
        im = Image.open(io.BytesIO(data), formats=("PNG", "JPEG"))
    except UnidentifiedImageError:
        if data.startswith(SIGNATURES):  # a PNG or JPEG whose header is cut short or broken
            kind = "PNG" if data.startswith(SIGNATURES[0]) else "JPEG"
            raise ApiError(422, f"the {kind} image could not be read (its header is broken); it may be truncated "
                                "or corrupt") from None
        raise ApiError(415, "the file is not a PNG or JPEG image; only PNG and JPEG are accepted") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard (its warning too, when warnings are errors) fires in open() on a
        # header of over ~89M pixels, before the check below, which is far stricter.
        raise ApiError(422, f"the image header claims over {Image.MAX_IMAGE_PIXELS} pixels; at most "
                            f"{settings.max_image_pixels} pixels (4096x4096) are accepted (decompression bomb "
                            "guard)") from None
    except Exception as e:  # whatever Pillow raises on a user's file is that file's fault
        raise unreadable(e) from None
    pixels = im.width * im.height
    if pixels > settings.max_image_pixels or pixels == 0:
        raise ApiError(422, f"the image is {im.width}x{im.height} pixels; at most {settings.max_image_pixels} "
                            "pixels (4096x4096) are accepted (decompression bomb guard)")
    source = {"format": im.format, "width": im.width, "height": im.height, "mode": im.mode,
              "frames": int(getattr(im, "n_frames", 1))}
    try:
        im.load()  # the first frame of an animation
        im = ImageOps.exif_transpose(im) or im
        arr = _to_unit_array(im, height, width, channels)
    except ApiError:
        raise
    except Exception as e:  # struct.error from a cut eXIf chunk, SyntaxError, OSError, ...
        raise unreadable(e) from None
    if invert:
        arr = 1.0 - arr
    return {"input": arr.tolist(), "channels": channels, "height": height, "width": width, "source": source}


def _to_unit_array(im: Image.Image, height: int, width: int, channels: int) -> np.ndarray:
    """(C, H, W) float64 in [0, 1]."""
    if im.mode in SIXTEEN_BIT:
        # 16-bit grayscale: Pillow's "L" conversion would clip at 255, so scale in float.
        gray = np.asarray(im, dtype=np.float64) / 65535.0
        small = Image.fromarray(gray.astype(np.float32), mode="F").resize((width, height), Image.Resampling.BOX)
        plane = np.clip(np.asarray(small, dtype=np.float64), 0.0, 1.0)
        return np.repeat(plane[None], channels, axis=0)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba).convert("RGB")
    target = "L" if channels == 1 else "RGB"
    im = im.convert(target).resize((width, height), Image.Resampling.BOX)
    arr = np.asarray(im, dtype=np.float64) / 255.0
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


@router.post("/images", response_model=ImageResponse, responses={
    **SERVER_ERRORS,
    413: {"model": ErrorResponse, "description": "Upload over 2 MiB."},
    415: {"model": ErrorResponse, "description": "Not a PNG or JPEG."},
    422: {"model": ErrorResponse, "description": "Empty, truncated, corrupt or too many pixels; or a bad size."}})
async def images(
    file: Annotated[UploadFile, File(description="A PNG or JPEG image, at most 2 MiB.")],
    height: Annotated[int, Form(ge=1, le=limits.MAX_INPUT_HW, description="Target height in cells.")] = 6,
    width: Annotated[int, Form(ge=1, le=limits.MAX_INPUT_HW, description="Target width in cells.")] = 6,
    channels: Annotated[int, Form(ge=1, le=3, description="1 (grayscale, Pillow's L) or 3 (RGB).")] = 1,
    invert: Annotated[bool, Form(description="1 - value: dark strokes on white paper become high values.")] = False,
) -> Response:
    """Turn an uploaded image into an `input` array: EXIF-rotated, grayscale unless 3 channels are asked,
    downscaled by area averaging (BOX), in [0, 1]."""
    if channels not in (1, 3):
        raise ApiError(422, f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise ApiError(413, f"the image is over {settings.max_upload_bytes // (1024 * 1024)} MiB; send a smaller file")
    body = await run_in_threadpool(decode, data, height, width, channels, invert)
    body["source"]["filename"] = (file.filename or "")[:200]
    return json_response(body)

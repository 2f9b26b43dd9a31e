"""Frame encoding for the browser: lossless PNG for small frames, JPEG for large ones.

Measured with OpenCV on a 2-core CPU (docs/serve.md): a 64 x 64 Atari frame is ~0.9 KB as PNG (level 1) in
0.12 ms, ~1.7 KB as JPEG; a 150 x 280 frame is ~80 KB as PNG in 2.9 ms, ~10 KB as JPEG (quality 90) in 0.25 ms,
~7 KB as WebP in 4.1 ms. Small frames stay exact at a cost of a kilobyte; large ones take JPEG, the fastest to
encode at a tenth of PNG's size (WebP saves another 30 % for 16 times the encoding time).
"""

from __future__ import annotations

import cv2
import numpy as np

PNG_MAX_PIXELS = 96 * 96  # frames up to this many pixels are sent lossless
JPEG_QUALITY = 90
PNG_LEVEL = 1


def encode_frame(frame: np.ndarray) -> tuple[str, bytes]:
    """(mime type, bytes) of an (H, W, 3) uint8 RGB frame; ValueError naming the shape or dtype otherwise."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame of shape {frame.shape} and dtype {frame.dtype}: expected (H, W, 3) uint8")
    bgr = np.ascontiguousarray(frame[:, :, ::-1])
    if frame.shape[0] * frame.shape[1] <= PNG_MAX_PIXELS:
        ok, data = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL])
        mime = "image/png"
    else:
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        mime = "image/jpeg"
    if not ok:
        raise ValueError(f"frame of shape {frame.shape}: OpenCV could not encode it")
    return mime, data.tobytes()

"""The pixel formats cameras publish, to RGB uint8: raw sensor_msgs/Image encodings by cv_bridge's
rules, and PNG / JPEG CompressedImage data, whose size is read from the header before decoding.

Pixel-level rules only: the message checks (sizes, step, the pixel bound) and the errors the node
logs are `conversions.py`'s, which calls this module. README, "ROS 2 node", lists what is accepted.

Raw encodings (`RAW_ENCODINGS`). cv_bridge has no wheels here (it needs rclcpp), so the node must
give what `cv_bridge::toCvCopy(msg, "rgb8")` gives. cv_bridge's rule (vision_opencv,
`cv_bridge.cpp`: getCvType, getEncoding, getConversionCode, matFromImage, toCvCopyImpl):
- 16-bit data whose byte order (`is_bigendian`) is not the machine's is byte-swapped first;
- then one `cv::cvtColor` to RGB with a fixed code per encoding family: GRAY2RGB for mono,
  BGR2RGB / RGBA2RGB / BGRA2RGB for the other colour orders, YUV2RGB_UYVY for `yuv422` and
  YUV2RGB_YUY2 for `yuv422_yuy2`, and for Bayer the OpenCV code whose name is shifted by one
  pixel from ROS's: ROS names the 2x2 tile from its top-left pixel, OpenCV's classic names
  from the second row and column, so bayer_rggb -> BayerBG, bayer_bggr -> BayerRG,
  bayer_gbrg -> BayerGR, bayer_grbg -> BayerGB (the tests check the colours);
- then, for 16-bit data, `convertTo(CV_8U, 255/65535)`: v8 = round(v16 / 257), saturated.
  257 is odd, so v16 / 257 is never a half and the rounding mode never matters.
A permutation (BGR2RGB, RGBA2RGB, ...) commutes with the per-value scaling, so here the 16-bit
values are scaled first (one pass, 8-bit afterwards) and the channels are picked as a view; only
the Bayer demosaic, which mixes neighbours, runs on the 16-bit values before scaling, as in
cv_bridge. Generic encodings (`8UC1`, `8UC3`, `16UC1`, ...) carry no colour meaning: cv_bridge
refuses to convert them to rgb8 ("is not a color format"), and so does the node.

Compressed data. `read_header` reads the size from the first bytes (PNG: the IHDR chunk; JPEG: the
frame header, SOF), following the decoders' own rules so that the size read is the size the
decoder allocates: libpng requires IHDR as the first chunk, libjpeg walks the marker segments up
to the first scan (SOS) and refuses a second frame header, a frame of height 0 (DNL) and an EOI
before any scan. `decode_cpu` (OpenCV, libpng / libjpeg-turbo) and `decode_jpeg_torch`
(torchvision: nvjpeg on CUDA, libjpeg-turbo on a CPU) decode; the caller checks that the decoded
size is the header's. EXIF orientation is ignored, as image_transport's compressed subscriber
(IMREAD_UNCHANGED) and torchvision do: the detector's boxes refer to the stored pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

# 16 -> 8 bits as cv_bridge scales (convertTo with alpha 255/65535); convertScaleAbs is the same
# saturate_cast(v * alpha) for unsigned input.
SCALE_16_TO_8 = 255.0 / 65535.0


@dataclass(frozen=True)
class RawEncoding:
    """How one sensor_msgs/Image encoding becomes RGB.

    channels / depth: channels per pixel and bytes per channel in the message.
    code: the cv2.cvtColor code to RGB (cv_bridge's), or None when `rgb` picks the channels.
    rgb: the slice of a pixel's channels that gives R, G, B (None with a code; mono: [0:1],
      repeated). even_width / even_height: the layout needs them even (YUV 4:2:2 pairs pixels
      horizontally, a Bayer tile is 2x2).
    """

    channels: int
    depth: int
    code: int | None = None
    rgb: slice | None = None
    even_width: bool = False
    even_height: bool = False

    @property
    def bytes_per_pixel(self) -> int:
        return self.channels * self.depth


def _bayer(code: int, depth: int) -> RawEncoding:
    return RawEncoding(1, depth, code, even_width=True, even_height=True)


_RGB, _BGR, _MONO = slice(0, 3), slice(2, None, -1), slice(0, 1)
RAW_ENCODINGS: dict[str, RawEncoding] = {
    "rgb8": RawEncoding(3, 1, rgb=_RGB),
    "bgr8": RawEncoding(3, 1, rgb=_BGR),
    "rgba8": RawEncoding(4, 1, rgb=_RGB),
    "bgra8": RawEncoding(4, 1, rgb=_BGR),
    "mono8": RawEncoding(1, 1, rgb=_MONO),
    "rgb16": RawEncoding(3, 2, rgb=_RGB),
    "bgr16": RawEncoding(3, 2, rgb=_BGR),
    "rgba16": RawEncoding(4, 2, rgb=_RGB),
    "bgra16": RawEncoding(4, 2, rgb=_BGR),
    "mono16": RawEncoding(1, 2, rgb=_MONO),
    "yuv422": RawEncoding(2, 1, cv2.COLOR_YUV2RGB_UYVY, even_width=True),  # UYVY
    "yuv422_yuy2": RawEncoding(2, 1, cv2.COLOR_YUV2RGB_YUY2, even_width=True),  # YUYV
    "bayer_rggb8": _bayer(cv2.COLOR_BayerBG2RGB, 1),
    "bayer_bggr8": _bayer(cv2.COLOR_BayerRG2RGB, 1),
    "bayer_gbrg8": _bayer(cv2.COLOR_BayerGR2RGB, 1),
    "bayer_grbg8": _bayer(cv2.COLOR_BayerGB2RGB, 1),
    "bayer_rggb16": _bayer(cv2.COLOR_BayerBG2RGB, 2),
    "bayer_bggr16": _bayer(cv2.COLOR_BayerRG2RGB, 2),
    "bayer_gbrg16": _bayer(cv2.COLOR_BayerGR2RGB, 2),
    "bayer_grbg16": _bayer(cv2.COLOR_BayerGB2RGB, 2),
}


def scale_16_to_8(values: np.ndarray) -> np.ndarray:
    """uint16 (native byte order) -> uint8 by cv_bridge's rule, round(v / 257), same shape."""
    return cv2.convertScaleAbs(values, alpha=SCALE_16_TO_8)


def raw_to_rgb(
    rows: np.ndarray, width: int, encoding: RawEncoding, big_endian: bool
) -> np.ndarray:
    """The pixels of a raw image as RGB uint8 [H, W, 3], cv_bridge's result.

    rows: uint8 [H, >= width * bytes_per_pixel], one message row each (the step's padding may
    follow); the caller has checked sizes and evenness. big_endian: the message's is_bigendian
    (read for 16-bit data only). 8-bit encodings without a colour code give a view of `rows`
    (strided, possibly read-only; mono broadcast); the others a new array.
    """
    height = rows.shape[0]
    pixels = rows[:, : width * encoding.bytes_per_pixel]
    if encoding.depth == 2:
        pixels = pixels.view(">u2" if big_endian else "<u2")
        if not pixels.dtype.isnative or pixels.strides[0] % 2:  # swapped or an odd step
            pixels = np.ascontiguousarray(pixels, dtype=np.uint16)  # OpenCV needs aligned rows
        if encoding.code is None:
            pixels = scale_16_to_8(pixels)  # [H, W * channels]; permutations commute with it
    pixels = pixels.reshape(height, width, encoding.channels)
    if encoding.code is not None:
        rgb = cv2.cvtColor(pixels[:, :, 0] if encoding.channels == 1 else pixels, encoding.code)
        return scale_16_to_8(rgb) if rgb.dtype == np.uint16 else rgb
    if encoding.channels == 1:
        return np.broadcast_to(pixels, (height, width, 3))
    return pixels[:, :, encoding.rgb]


# ---- compressed images ---------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"  # SOI and the first byte of the next marker
# JPEG markers (ITU T.81, table B.1) by what a header reader does with them.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG and DAC share the range
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}  # RST0..7 and TEM carry no length
_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by IHDR colour type (3: palette indices)
_PNG_MAX_SIDE = 2**31 - 1  # PNG spec, section 11.2.2
# Newer OpenCV (IMREAD_COLOR_RGB; not yet in setup.py's minimum 4.8) decodes straight to RGB:
# no BGR->RGB pass over the image (BENCHMARKS.md, "Oversized images"). Older: BGR, then cvtColor.
_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", 0)


@dataclass(frozen=True)
class CompressedHeader:
    """What the header of a PNG or JPEG says about the image it holds.

    kind: "png" or "jpeg". components: PNG channels by colour type, JPEG components (1 grey,
    3 YCbCr, 4 CMYK / YCCK). bit_depth: PNG bits per sample, JPEG sample precision.
    marker: the JPEG frame header's marker (0xC0 baseline, 0xC1 extended, 0xC2 progressive,
    0xC3 lossless, 0xC9.. arithmetic coding); 0 for PNG.
    """

    kind: str
    width: int
    height: int
    components: int
    bit_depth: int
    marker: int = 0


def compressed_kind(data: np.ndarray) -> str | None:
    """The format by the file signature of `data` (uint8 [n]): "png", "jpeg" or None."""
    head = data[:8].tobytes()
    if head.startswith(PNG_SIGNATURE):
        return "png"
    if head.startswith(JPEG_SIGNATURE):
        return "jpeg"
    return None


def read_header(data: np.ndarray) -> CompressedHeader:
    """The size and layout of the PNG or JPEG in `data` (uint8 [n]) from its header alone.

    ValueError, naming the problem, when `data` is neither or its header is malformed; a JPEG
    header is read up to its first scan, which takes a few hundred bytes (more with large
    metadata segments, which are skipped by their length, never read).
    """
    kind = compressed_kind(data)
    if kind == "png":
        return _png_header(data[:33].tobytes())
    if kind == "jpeg":
        return _jpeg_header(data)
    raise ValueError("neither a PNG nor a JPEG file signature")


def _png_header(head: bytes) -> CompressedHeader:
    """The IHDR chunk, which must come first, right after the signature (libpng refuses any
    other chunk order and a second IHDR, so the image decoded is the one described here)."""
    if len(head) < 33 or head[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise ValueError("PNG without an IHDR chunk right after its signature")
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    depth, colour = head[24], head[25]
    if not (0 < width <= _PNG_MAX_SIDE and 0 < height <= _PNG_MAX_SIDE):
        raise ValueError(f"PNG header gives an invalid size {width}x{height}")
    if colour not in _PNG_CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise ValueError(f"PNG header gives an invalid colour type {colour} / bit depth {depth}")
    return CompressedHeader("png", width, height, _PNG_CHANNELS[colour], depth)


def _jpeg_header(data: np.ndarray) -> CompressedHeader:
    """The frame header (SOF) of a JPEG, found as libjpeg's marker reader finds it: bytes
    before a 0xFF are skipped, fill bytes 0xFF are skipped, 0xFF 0x00 is no marker; segments
    with a length are skipped by it (so a thumbnail inside APP1 is never seen); RSTn and TEM
    have none. Exactly one SOF must come before the first SOS. Reads `data` in place."""
    view, end = memoryview(data), data.size
    frames: list[tuple[int, bytes]] = []
    pos = 2
    while True:
        pos = _next_ff(data, pos)
        while 0 <= pos < end and view[pos] == 0xFF:
            pos += 1
        if pos < 0 or pos >= end:
            raise ValueError("JPEG ends before its first scan (SOS)")
        marker, pos = view[pos], pos + 1
        if marker == 0x00 or marker in _STANDALONE:
            continue
        if marker == _SOI:
            raise ValueError("JPEG with a second start-of-image marker before its first scan")
        if marker == _EOI:
            raise ValueError("JPEG ends (EOI) before its first scan: no image")
        if pos + 2 > end:
            raise ValueError("JPEG ends inside a marker segment")
        length = int.from_bytes(view[pos : pos + 2], "big")
        if length < 2 or pos + length > end:
            raise ValueError(f"JPEG marker 0x{marker:02X} has a bad length {length}")
        if marker in _SOF:
            frames.append((marker, bytes(view[pos + 2 : pos + length])))
        if marker == _SOS:
            break
        pos += length
    if len(frames) != 1:
        raise ValueError(f"JPEG with {len(frames)} frame headers (SOF) before its first scan; "
                         "exactly one is valid (libjpeg refuses a second)")  # fmt: skip
    marker, sof = frames[0]
    if len(sof) < 6:
        raise ValueError("JPEG frame header (SOF) too short")
    precision, components = sof[0], sof[5]
    height, width = int.from_bytes(sof[1:3], "big"), int.from_bytes(sof[3:5], "big")
    if height == 0 or width == 0 or components == 0:
        raise ValueError(f"JPEG frame header gives an empty or deferred size {width}x{height} "
                         f"with {components} components (DNL is not supported)")  # fmt: skip
    return CompressedHeader("jpeg", width, height, components, precision, marker)


def _next_ff(data: np.ndarray, pos: int) -> int:
    """The index of the first 0xFF at or after `pos`, -1 if none."""
    if pos < data.size and data[pos] == 0xFF:
        return pos  # a well-formed file: the next marker follows the segment
    hits = np.flatnonzero(data[pos:] == 0xFF)  # stray bytes, which libjpeg skips too
    return pos + int(hits[0]) if hits.size else -1


def decode_cpu(data: np.ndarray, header: CompressedHeader) -> np.ndarray | None:
    """PNG / JPEG `data` (uint8 [n]) -> RGB uint8 [H, W, 3] with OpenCV, None if undecodable.

    Grey, palette and alpha PNGs and grey and CMYK JPEGs come out as RGB (alpha dropped);
    16-bit PNGs are scaled to 8 bits by cv_bridge's rule (OpenCV's own reduction keeps the high
    byte, up to one level off it), as a 16-bit raw image is.
    """
    flags = (_IMREAD_RGB or cv2.IMREAD_COLOR) | cv2.IMREAD_IGNORE_ORIENTATION
    if header.bit_depth == 16:
        flags |= cv2.IMREAD_ANYDEPTH
    pixels = cv2.imdecode(data, flags)
    if pixels is None:
        return None
    if pixels.dtype == np.uint16:
        pixels = scale_16_to_8(pixels)
    return pixels if _IMREAD_RGB else cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def torch_decodable(header: CompressedHeader) -> bool:
    """Whether `decode_jpeg_torch` takes it on CUDA: an 8-bit Huffman-coded JPEG (baseline,
    extended or progressive), grey or YCbCr. Others (CMYK / YCCK, 12-bit, lossless, arithmetic
    coding) and PNG go through `decode_cpu`."""
    return (header.kind == "jpeg" and header.marker in (0xC0, 0xC1, 0xC2)
            and header.bit_depth == 8 and header.components in (1, 3))  # fmt: skip


def decode_jpeg_torch(data: np.ndarray, device: Any) -> Any:
    """JPEG `data` (uint8 [n]) -> RGB uint8 torch tensor [H, W, 3] (a view of [3, H, W]) on
    `device`, by torchvision.io.decode_jpeg: nvjpeg on a CUDA device, libjpeg-turbo on the CPU
    (what the tests compare with `decode_cpu`). Grey becomes RGB. RuntimeError when the
    decoder fails."""
    import torch  # only this path needs torch and torchvision, not the conversions
    from torchvision.io import ImageReadMode, decode_jpeg

    encoded = torch.from_numpy(np.array(data, dtype=np.uint8))  # its own writable CPU copy
    return decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device).permute(1, 2, 0)

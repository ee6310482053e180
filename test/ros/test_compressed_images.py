"""CompressedImage (PNG / JPEG) -> RGB: the size read from the header and bounded before any
decoding, headers crafted to make the header reader and the decoder disagree, the formats
cameras and tools produce (grey, CMYK, 16-bit, progressive, EXIF orientation), and the JPEG path
of CUDA devices (torchvision.io.decode_jpeg) run on the CPU against OpenCV's."""

from __future__ import annotations

import io
import struct
import zlib
from types import SimpleNamespace as NS

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from sameo_ros import conversions, image_formats
from sameo_ros.conversions import (
    DEFAULT_MAX_IMAGE_PIXELS,
    MAX_IMAGE_PIXELS_LIMIT,
    ConversionError,
    compressed_to_rgb,
    image_to_rgb,
    to_rgb,
)
from sameo_ros.image_formats import (
    decode_jpeg_torch,
    read_header,
    torch_decodable,
)

RNG = np.random.default_rng(0)


def _smooth(height: int, width: int) -> np.ndarray:
    """A camera-like RGB image: smooth gradients plus noise (so JPEG has work to do)."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([128 + 100 * np.sin(x / 7.0), 128 + 100 * np.cos(y / 5.0),
                      (x * 3 + y * 2) % 256], axis=-1)  # fmt: skip
    return np.clip(image + RNG.normal(0, 20, image.shape), 0, 255).astype(np.uint8)


def _jpeg(rgb: np.ndarray, *params: int) -> bytes:
    bgr = rgb if rgb.ndim == 2 else np.ascontiguousarray(rgb[:, :, ::-1])
    ok, data = cv2.imencode(".jpg", bgr, list(params))
    assert ok
    return data.tobytes()


def _png(pixels: np.ndarray) -> bytes:
    """PNG of pixels given in OpenCV's order (grey, BGR, BGRA; uint8 or uint16)."""
    ok, data = cv2.imencode(".png", pixels)
    assert ok
    return data.tobytes()


def _msg(data: bytes, fmt: str = "jpeg") -> NS:
    return NS(format=fmt, data=data)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + payload))
    return struct.pack(">I", len(payload)) + kind + payload + crc


def _ihdr(width: int, height: int, depth: int = 8, colour: int = 0) -> bytes:
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SMALL_JPEG = _jpeg(_smooth(16, 24))


def _sof_at(jpeg: bytes) -> int:
    at = jpeg.index(b"\xff\xc0")
    assert jpeg.count(b"\xff\xc0") == 1
    return at


def _with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """`jpeg` with its frame header claiming another size."""
    at = _sof_at(jpeg)
    return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]


def _sof_segment(jpeg: bytes) -> bytes:
    at = _sof_at(jpeg)
    return jpeg[at : at + 2 + int.from_bytes(jpeg[at + 2 : at + 4], "big")]


def _header_only(jpeg: bytes) -> bytes:
    """Everything up to and including the SOS segment, then EOI: a header without scan data."""
    at = jpeg.index(b"\xff\xda")
    return jpeg[: at + 2 + int.from_bytes(jpeg[at + 2 : at + 4], "big")] + b"\xff\xd9"


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any decoder runs."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("a decoder ran on an image that had to be refused from its header")

    monkeypatch.setattr(cv2, "imdecode", refuse)
    monkeypatch.setattr(conversions, "decode_jpeg_torch", refuse)


@pytest.mark.parametrize(
    "data, kind, size, components, depth",
    [
        (_jpeg(_smooth(37, 53)), "jpeg", (53, 37), 3, 8),
        (_jpeg(_smooth(40, 64), cv2.IMWRITE_JPEG_PROGRESSIVE, 1), "jpeg", (64, 40), 3, 8),
        (_jpeg(_smooth(9, 11)[:, :, 0]), "jpeg", (11, 9), 1, 8),
        (_png(_smooth(7, 5)), "png", (5, 7), 3, 8),
        (_png(_smooth(7, 5)[:, :, 0]), "png", (5, 7), 1, 8),
        (_png(np.dstack([_smooth(3, 4), np.ones((3, 4), np.uint8)])), "png", (4, 3), 4, 8),
        (_png(np.zeros((6, 2, 3), np.uint16)), "png", (2, 6), 3, 16),
    ],
)
def test_headers_give_the_size_that_decodes(data: bytes, kind, size, components, depth) -> None:
    header = read_header(np.frombuffer(data, np.uint8))
    assert (header.kind, (header.width, header.height)) == (kind, size)
    assert (header.components, header.bit_depth) == (components, depth)
    assert compressed_to_rgb(_msg(data, kind)).shape == (size[1], size[0], 3)


@pytest.mark.usefixtures("no_decoding")
@pytest.mark.parametrize(
    "data",
    [
        # 625 bytes that OpenCV decodes into a 30000x30000 grey image (2.7 GB, BENCHMARKS.md)
        _header_only(_with_size(SMALL_JPEG, 30000, 30000)),
        PNG_SIGNATURE + _ihdr(30000, 30000) + _chunk(b"IDAT", zlib.compress(bytes(30001)))
        + _chunk(b"IEND", b""),
    ],
    ids=["jpeg", "png"],
)
def test_oversized_images_are_refused_from_their_header(data: bytes) -> None:
    with pytest.raises(ConversionError, match="30000x30000 = 900000000 pixels exceeds "
                       f"max_image_pixels = {DEFAULT_MAX_IMAGE_PIXELS}") as caught:  # fmt: skip
        to_rgb(_msg(data))
    assert caught.value.kind == "too_large"
    with pytest.raises(ConversionError, match=f"exceeds max_image_pixels = {2**28}"):
        to_rgb(_msg(data), max_image_pixels=MAX_IMAGE_PIXELS_LIMIT)  # the largest bound


def test_the_compressed_bound_is_inclusive() -> None:
    data = _jpeg(_smooth(10, 20))
    assert to_rgb(_msg(data), max_image_pixels=200).shape == (10, 20, 3)
    with pytest.raises(ConversionError, match="jpeg image of 20x10 = 200 pixels exceeds"):
        to_rgb(_msg(data), max_image_pixels=199)


def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


BIG_SOF = _sof_segment(_with_size(SMALL_JPEG, 30000, 30000))


@pytest.mark.usefixtures("no_decoding")
@pytest.mark.parametrize(
    "data, message",
    [
        (SMALL_JPEG[:2] + BIG_SOF + SMALL_JPEG[2:], "2 frame headers"),  # big first
        (SMALL_JPEG[: _sof_at(SMALL_JPEG)] + BIG_SOF + SMALL_JPEG[_sof_at(SMALL_JPEG) :],
         "2 frame headers"),  # big right before the real one
        (_with_size(SMALL_JPEG, 24, 0), "empty or deferred size 24x0"),  # DNL
        (SMALL_JPEG[:2] + b"\xff\xd9" + SMALL_JPEG[2:], r"ends \(EOI\) before its first scan"),
        (SMALL_JPEG[:2] + b"\xff\xd8" + SMALL_JPEG[2:], "second start-of-image"),
        (SMALL_JPEG[: _sof_at(SMALL_JPEG)], "ends before its first scan"),
        (SMALL_JPEG[:2] + b"\xff\xe0\x00\x01" + SMALL_JPEG[2:], "bad length 1"),
        (PNG_SIGNATURE + _chunk(b"tEXt", b"a\0b") + _ihdr(8, 8), "without an IHDR chunk right"),
        (PNG_SIGNATURE + _ihdr(0, 8), "invalid size 0x8"),
        (PNG_SIGNATURE + _ihdr(8, 8, depth=3), "invalid colour type 0 / bit depth 3"),
    ],
)
def test_headers_that_could_mislead_the_bound_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ConversionError, match=message) as caught:
        to_rgb(_msg(data))
    assert caught.value.kind == "compressed"


def test_a_thumbnail_frame_header_inside_metadata_is_skipped() -> None:
    """A SOF inside an APP1 segment (an EXIF thumbnail) is not the image's frame header."""
    thumbnail = b"Exif\0\0" + b"\xff\xd8" + BIG_SOF + b"\xff\xd9"
    data = SMALL_JPEG[:2] + _app1(thumbnail) + SMALL_JPEG[2:]
    header = read_header(np.frombuffer(data, np.uint8))
    assert (header.width, header.height) == (24, 16)
    np.testing.assert_array_equal(to_rgb(_msg(data)), to_rgb(_msg(SMALL_JPEG)))


def test_fill_bytes_and_stray_bytes_between_segments_are_read_as_libjpeg_reads_them() -> None:
    sof = _sof_at(SMALL_JPEG)
    data = SMALL_JPEG[:sof] + b"\x00\x12\xff\x00\xff\xff\xff" + SMALL_JPEG[sof:]
    assert read_header(np.frombuffer(data, np.uint8)).width == 24
    np.testing.assert_array_equal(to_rgb(_msg(data)), to_rgb(_msg(SMALL_JPEG)))


def test_a_png_whose_data_holds_more_rows_than_its_header_decodes_to_the_header_size() -> None:
    rows = bytes(65 * 64)  # 64 rows of 64 grey pixels (filter byte 0 each), IHDR 8x8
    idat = _chunk(b"IDAT", zlib.compress(rows))
    out = to_rgb(_msg(PNG_SIGNATURE + _ihdr(8, 8) + idat + _chunk(b"IEND", b""), "png"))
    assert out.shape == (8, 8, 3) and not out.any()


def test_an_image_that_decodes_to_another_size_than_its_header_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(conversions, "decode_cpu", lambda data, header: np.zeros((9, 9, 3)))
    with pytest.raises(ConversionError, match="decodes to 9x9, its header says 24x16"):
        to_rgb(_msg(SMALL_JPEG))


def test_truncated_data_is_undecodable() -> None:
    data = PNG_SIGNATURE + _ihdr(8, 8)  # a header, no image data
    with pytest.raises(ConversionError, match=r"^undecodable 'png' compressed image \(33 bytes"):
        to_rgb(_msg(data, "png"))


def test_exif_orientation_is_ignored_on_both_paths() -> None:
    """Boxes refer to the stored pixels (image_transport decodes with IMREAD_UNCHANGED)."""
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buffer = io.BytesIO()
    stored = _smooth(16, 32)
    Image.fromarray(stored).save(buffer, format="JPEG", exif=exif.tobytes(), quality=95)
    data = buffer.getvalue()
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (32, 16, 3)
    out = to_rgb(_msg(data))
    assert out.shape == (16, 32, 3)
    unrotated = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))  # Pillow: no transpose
    assert np.abs(out.astype(int) - unrotated).max() <= JPEG_TOLERANCE_MAX
    np.testing.assert_array_equal(decode_jpeg_torch(np.frombuffer(data, np.uint8), "cpu"), out)


def test_cmyk_jpegs_decode_to_the_right_colours_on_the_cpu_path() -> None:
    rgb = np.zeros((16, 48, 3), np.uint8)
    rgb[:, :16], rgb[:, 16:32], rgb[:, 32:] = (220, 20, 20), (20, 200, 20), (20, 20, 220)
    buffer = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(buffer, format="JPEG", quality=95)
    data = np.frombuffer(buffer.getvalue(), np.uint8)
    header = read_header(data)
    assert header.components == 4 and not torch_decodable(header)
    assert np.abs(to_rgb(_msg(buffer.getvalue())).astype(int) - rgb).max() <= 3


def test_16_bit_pngs_are_scaled_as_16_bit_raw_images_are() -> None:
    values = np.random.default_rng(3).integers(0, 65536, (5, 6, 3)).astype(np.uint16)
    raw = NS(height=5, width=6, encoding="rgb16", step=36, is_bigendian=0,
             data=values.astype("<u2").tobytes())  # fmt: skip
    from_png = to_rgb(_msg(_png(values[:, :, ::-1]), "png"))
    np.testing.assert_array_equal(from_png, image_to_rgb(raw))  # round(v / 257), not v >> 8


@pytest.mark.parametrize(
    "data",
    [_jpeg(_smooth(21, 30)), _png(_smooth(5, 7)), _png(_smooth(5, 7)[:, :, 0]),
     _png(np.random.default_rng(4).integers(0, 65536, (4, 3, 3)).astype(np.uint16))],
    ids=["jpeg", "png", "grey png", "16-bit png"],
)  # fmt: skip
def test_opencv_without_rgb_decoding_gives_the_same_pixels(data: bytes, monkeypatch) -> None:
    """OpenCV before IMREAD_COLOR_RGB: BGR, then cvtColor."""
    direct = to_rgb(_msg(data))
    monkeypatch.setattr(image_formats, "_IMREAD_RGB", 0)
    np.testing.assert_array_equal(to_rgb(_msg(data)), direct)


def test_grey_jpegs_become_rgb() -> None:
    grey = _smooth(12, 20)[:, :, 1]
    out = to_rgb(_msg(_jpeg(grey)))
    assert out.shape == (12, 20, 3) and (out == out[:, :, :1]).all()
    assert np.abs(out[:, :, 0].astype(int) - grey).mean() < 6


# The JPEG decoder of CUDA devices, run on the CPU. torchvision's CPU decoder and OpenCV both
# use libjpeg-turbo's default (islow) IDCT and chroma upsampling: measured identical here (max
# difference 0 levels). The bound allows for a libjpeg-turbo of another version on either side.
# nvjpeg on a GPU is not measured (no GPU).
JPEG_TOLERANCE_MAX, JPEG_TOLERANCE_MEAN = 1, 0.05
JPEGS = {
    "4:2:0, odd size": _jpeg(_smooth(97, 131), cv2.IMWRITE_JPEG_QUALITY, 90),
    "4:4:4": _jpeg(_smooth(64, 80), cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                   cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444),
    "4:2:2, odd width": _jpeg(_smooth(64, 81), cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                              cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422),
    "progressive": _jpeg(_smooth(120, 160), cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
    "grey": _jpeg(_smooth(50, 70)[:, :, 0]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(JPEGS))
def test_the_torchvision_jpeg_decoder_gives_the_cpu_paths_pixels(name: str) -> None:
    data = JPEGS[name]
    header = read_header(np.frombuffer(data, np.uint8))
    assert torch_decodable(header)
    ours = to_rgb(_msg(data))
    theirs = decode_jpeg_torch(np.frombuffer(data, np.uint8), "cpu")
    assert theirs.dtype == torch.uint8 and tuple(theirs.shape) == ours.shape
    difference = np.abs(theirs.numpy().astype(int) - ours)
    assert difference.max() <= JPEG_TOLERANCE_MAX
    assert difference.mean() <= JPEG_TOLERANCE_MEAN


@pytest.fixture
def cpu_as_cuda(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Route as for a CUDA device, with the CPU as that device; records torch decodes."""
    calls: list[str] = []

    def spy(data, device):
        calls.append(str(device))
        return decode_jpeg_torch(data, device)

    monkeypatch.setattr(conversions, "_is_cuda", lambda device: device is not None)
    monkeypatch.setattr(conversions, "decode_jpeg_torch", spy)
    return calls


@pytest.mark.parametrize(
    "msg, by_torch",
    [
        (_msg(JPEGS["4:2:0, odd size"]), True),
        (_msg(JPEGS["grey"]), True),
        (_msg(_png(_smooth(5, 7)), "png"), False),
        (NS(height=2, width=2, encoding="bayer_rggb8", step=2, is_bigendian=0, data=bytes(4)),
         False),
    ],
)
def test_cuda_gets_tensors_and_jpegs_go_to_its_decoder(cpu_as_cuda, msg, by_torch: bool) -> None:
    out = to_rgb(msg, device="cpu")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.uint8
    reference = to_rgb(msg)
    assert isinstance(reference, np.ndarray) and tuple(out.shape) == reference.shape
    assert np.abs(out.numpy().astype(int) - reference).max() <= JPEG_TOLERANCE_MAX
    assert cpu_as_cuda == (["cpu"] if by_torch else [])


def test_a_cuda_device_refuses_what_its_decoder_cannot_decode(cpu_as_cuda) -> None:
    truncated = JPEGS["progressive"][: len(JPEGS["progressive"]) // 2]
    with pytest.raises(ConversionError, match="undecodable 'jpeg' .*decode_jpeg") as caught:
        to_rgb(_msg(truncated), device="cpu")
    assert caught.value.kind == "compressed"
    with pytest.raises(ConversionError, match="too_large|exceeds") as caught:
        to_rgb(_msg(_header_only(_with_size(SMALL_JPEG, 30000, 30000))), device="cpu")
    assert caught.value.kind == "too_large" and cpu_as_cuda == ["cpu"]


def test_a_cpu_device_keeps_numpy_and_opencv() -> None:
    out = to_rgb(_msg(SMALL_JPEG), device=torch.device("cpu"))
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, to_rgb(_msg(SMALL_JPEG)))

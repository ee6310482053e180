import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sameo_core.inference.postprocess import bicubic_matrix, upsample_mask_roi


def _smooth_logits(seed: int, size: int = 256, bias: float = -1.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, 1, 12, 12, generator=generator)
    return F.interpolate(coarse, (size, size), mode="bilinear")[0, 0] * 3 + bias


def _paste(crop: np.ndarray, offset: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    full = np.zeros(shape, bool)
    x0, y0 = offset
    full[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]] = crop
    return full


@pytest.mark.parametrize("out_size", [(480, 640), (720, 1280), (100, 90), (256, 256)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roi_upsampling_equals_full_bicubic(out_size, seed):
    logits = _smooth_logits(seed, bias=-2.5)
    full = F.interpolate(logits[None, None], out_size, mode="bicubic", align_corners=False)[0, 0]
    crop, offset = upsample_mask_roi(logits, out_size)
    np.testing.assert_array_equal(_paste(crop, offset, out_size), (full >= 0).numpy())
    if crop.size:  # the crop is tight
        assert crop[0].any() and crop[-1].any() and crop[:, 0].any() and crop[:, -1].any()


def test_small_object_gives_small_crop():
    logits = torch.full((256, 256), -5.0)
    logits[100:110, 40:60] = 5.0
    crop, (x0, y0) = upsample_mask_roi(logits, (512, 512))
    assert crop.shape[0] < 30 and crop.shape[1] < 50
    assert 190 < y0 < 205 and 70 < x0 < 85


def test_empty_mask():
    crop, offset = upsample_mask_roi(torch.full((256, 256), -1.0), (480, 640))
    assert crop.shape == (0, 0) and offset == (0, 0)


def test_threshold_is_applied_to_upsampled_logits():
    logits = _smooth_logits(3, bias=0.0)
    full = F.interpolate(logits[None, None], (300, 400), mode="bicubic", align_corners=False)[0, 0]
    crop, offset = upsample_mask_roi(logits, (300, 400), threshold=1.5)
    np.testing.assert_array_equal(_paste(crop, offset, (300, 400)), (full >= 1.5).numpy())


def test_bicubic_matrix_rows_sum_to_one():
    matrix = bicubic_matrix(256, 1000)
    assert matrix.shape == (256, 1000)
    torch.testing.assert_close(matrix.sum(0), torch.ones(1000))

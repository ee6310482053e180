"""The overlay drawing: visible and hidden parts look different, labels never cover each other,
arrows for the occlusion order, and the contact sheet."""

import numpy as np
import pytest

from sameo_core.geometry import RoiMask
from sameo_core.visualize import (
    LEGEND,
    PALETTE,
    OverlayItem,
    contact_sheet,
    draw_overlay,
    place_labels,
)


def _square(x0: int, y0: int, side: int) -> RoiMask:
    return RoiMask(np.ones((side, side), bool), (x0, y0))


def test_visible_part_is_solid_and_hidden_part_hatched():
    rgb = np.zeros((200, 200, 3), np.uint8)
    amodal = _square(50, 50, 100)
    visible = np.zeros((100, 100), bool)
    visible[:, :50] = True
    out = draw_overlay(rgb, [OverlayItem(amodal, "", visible)])
    inner_visible = out[60:140, 60:95].reshape(-1, 3)
    inner_hidden = out[60:140, 105:140].reshape(-1, 3)
    assert (inner_visible.sum(1) > 0).all()  # solid tint
    lit = (inner_hidden.sum(1) > 0).mean()
    assert 0.2 < lit < 0.6  # hatch lines
    assert out[:40, :40].sum() == 0  # nothing drawn away from the mask (no label)
    # the hidden part's outline is dashed: part of its border pixels are drawn, part not
    border = out[100:150, 149].sum(1) > 0
    assert 0.2 < border.mean() < 0.8


def test_labels_do_not_overlap_and_stay_inside_the_image():
    anchors = [(100.0, 100.0, 140.0, 140.0)] * 6 + [(620.0, 470.0, 640.0, 480.0)]
    sizes = [(120, 16)] * 7
    tags = place_labels(sizes, anchors, (480, 640))
    for k, a in enumerate(tags):
        assert a is not None and 0 <= a[0] and a[2] <= 640 and 0 <= a[1] and a[3] <= 480
        assert (a[2] - a[0], a[3] - a[1]) == sizes[k]
        for b in tags[:k]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    # the first one goes right above its box's top-left corner
    assert tags[0] == (100, 84, 220, 100)
    assert place_labels([(700, 16)], [(0.0, 0.0, 10.0, 10.0)], (480, 640)) == [None]


def test_labels_of_a_crowded_frame_do_not_overlap():
    rgb = np.full((480, 640, 3), 128, np.uint8)
    items = [OverlayItem(_square(200 + 5 * k, 200 + 5 * k, 60), f"obj{k} 0.91 vis 40% r{k}")
             for k in range(8)]  # fmt: skip
    out = draw_overlay(rgb, items)
    # every tag is an opaque rectangle of its object's colour: find each colour's pixels
    boxes = []
    for k in range(8):
        colour = PALETTE[k % len(PALETTE)].astype(np.uint8)
        ys, xs = np.nonzero((out == colour).all(-1))
        assert len(xs) > 200, k
        boxes.append((xs.min(), ys.min(), xs.max(), ys.max()))
    assert len(set(boxes)) == 8


def test_order_arrows_go_from_the_front_object_to_the_one_it_hides():
    rgb = np.zeros((200, 300, 3), np.uint8)
    back, front = _square(20, 60, 100), _square(150, 60, 100)
    plain = draw_overlay(rgb, [OverlayItem(back), OverlayItem(front)])
    arrow = draw_overlay(rgb, [OverlayItem(back), OverlayItem(front, occludes=(0,))])
    changed = np.nonzero((plain != arrow).any(-1))
    # the arrow runs between the two centres (70, 110) and (200, 110), shortened at both ends
    assert changed[1].min() >= 70 and changed[1].max() <= 200
    assert abs(np.median(changed[0]) - 110) <= 2
    # in the front object's colour, with its head at the back object's end
    colour = PALETTE[1].astype(np.uint8)
    head = (arrow[95:125, 75:100] == colour).all(-1).sum()
    tail = (arrow[95:125, 170:195] == colour).all(-1).sum()
    assert head > tail
    # an index out of range draws nothing
    assert np.array_equal(draw_overlay(rgb, [OverlayItem(back, occludes=(5,))]),
                          draw_overlay(rgb, [OverlayItem(back)]))  # fmt: skip


def test_contact_sheet_tiles_frames_with_captions_and_header():
    tiles = [np.full((48, 64, 3), (40 * k, 200, 30), np.uint8) for k in range(5)]  # not grey
    sheet = contact_sheet(tiles, [f"frame {k}" for k in range(5)], ["figures", LEGEND],
                          columns=3)  # fmt: skip
    assert sheet.dtype == np.uint8 and sheet.shape[1] == 3 * (64 + 8) + 8
    # tile 4 (row 1, column 1) is where the grid puts it
    found = np.nonzero((sheet == (160, 200, 30)).all(-1))
    assert (found[1].min(), found[1].max()) == (8 + 72, 8 + 72 + 63)
    assert len(found[0]) == 48 * 64 and found[0].min() > 48  # below the first row
    with pytest.raises(ValueError, match="captions"):
        contact_sheet(tiles, ["one"], [])
    with pytest.raises(ValueError, match="at least one tile"):
        contact_sheet([], [], [])

"""Videos with amodal ground truth on disk: the schema, the writer and the reader.

Layout (TAO-Amodal / YouTube-VIS style: videos of frames, tracks of per-frame annotations):

    DIR/annotations.json
    DIR/frames/<video name>/<frame index, 6 digits>.png

annotations.json (schema "sameo-video/1"; keys sorted, compact):

- `info`: {"schema": "sameo-video/1", "generator": {settings and seed of the set}}
- `categories`: [{"id", "name"}]
- `videos`: [{"id", "name", "width", "height", "fps", "num_frames", "seed"}]
- `tracks`: [{"id", "video_id", "category_id", "motion": "static" | "moving",
  "role": "object" | "occluder"}] — `id` is the ground-truth track id, unique in the file
- `images`: [{"id", "video_id", "frame_index", "file_name", "height", "width", "timestamp"}],
  one per frame, `frame_index` 0 .. num_frames - 1, `timestamp` = frame_index / fps (s)
- `annotations`: [{"id", "image_id", "video_id", "frame_index", "track_id", "category_id",
  "segmentation" (amodal mask, COCO RLE, cut at the image border), "visible_mask" (COCO RLE,
  a subset of it), "bbox", "visible_bbox" (xywh), "area", "fully_hidden" (amodal pixels in
  the frame and none visible), "occluded_by" (ids of the annotations of the same frame in
  front of it whose amodal masks overlap it), "iscrowd": 0}] — one per object and frame in
  which its amodal mask reaches into the frame.

Because `images` and `annotations` are amodal-COCO, every frame also reads as a still image
with the `amodal_coco` reader (`amodal_coco:DIR/annotations.json`): statistics and the
image-level evaluations work on the frames. `read_video_set` reads the video structure back,
checking every reference; a malformed file is a ValueError that names the entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sameo_core.data import rle as rle_utils
from sameo_core.data.shapes import CATEGORIES
from sameo_core.data.video_scenes import GeneratedVideo, TrackInfo
from sameo_core.files import atomic_write_bytes
from sameo_core.geometry import mask_box, xyxy_to_xywh

SCHEMA = "sameo-video/1"
ROLES = ("object", "occluder")
MOTIONS = ("static", "moving")


@dataclass(frozen=True)
class VideoAnnotation:
    """One object in one frame; masks as COCO RLE (decode with the properties)."""

    annotation_id: int
    track_id: int
    category_id: int
    amodal_rle: rle_utils.Rle
    visible_rle: rle_utils.Rle
    fully_hidden: bool
    occluded_by: tuple[int, ...]  # track ids in front (converted from annotation ids)

    @property
    def amodal_mask(self) -> np.ndarray:
        return rle_utils.decode(self.amodal_rle)

    @property
    def visible_mask(self) -> np.ndarray:
        return rle_utils.decode(self.visible_rle)


@dataclass(frozen=True)
class VideoFrame:
    frame_index: int
    timestamp: float
    image_path: Path
    objects: tuple[VideoAnnotation, ...]


@dataclass(frozen=True)
class VideoRecord:
    video_id: int
    name: str
    height: int
    width: int
    fps: float
    seed: int
    tracks: dict[int, TrackInfo]  # by track id
    frames: tuple[VideoFrame, ...]


def frame_file(video_name: str, frame_index: int) -> str:
    return f"frames/{video_name}/{frame_index:06d}.png"


def _png(image_rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError("PNG encoding failed")
    return data.tobytes()


def video_entries(video: GeneratedVideo, video_id: int, name: str, first_track_id: int,
                  first_image_id: int, first_annotation_id: int) -> dict[str, list]:
    """The JSON entries of one generated video (ids from the given firsts)."""
    h, w = video.frames[0].shape[:2]
    fps = video.config.fps
    track_ids = {t.track_id: first_track_id + k for k, t in enumerate(video.tracks)}
    tracks = [{"id": track_ids[t.track_id], "video_id": video_id, "category_id": t.category_id,
               "motion": t.motion, "role": t.role} for t in video.tracks]  # fmt: skip
    images, annotations = [], []
    ann_id = first_annotation_id
    for f, objects in enumerate(video.objects):
        image_id = first_image_id + f
        images.append({"id": image_id, "video_id": video_id, "frame_index": f,
                       "file_name": frame_file(name, f), "height": h, "width": w,
                       "timestamp": f / fps})  # fmt: skip
        ids = {o.track_id: ann_id + k for k, o in enumerate(objects)}
        for o in objects:
            amodal_box = xyxy_to_xywh(mask_box(o.amodal)).tolist()
            visible_box = xyxy_to_xywh(mask_box(o.visible)).tolist()
            annotations.append({
                "id": ids[o.track_id], "image_id": image_id, "video_id": video_id,
                "frame_index": f, "track_id": track_ids[o.track_id],
                "category_id": o.category_id, "segmentation": rle_utils.encode(o.amodal),
                "visible_mask": rle_utils.encode(o.visible), "bbox": amodal_box,
                "visible_bbox": visible_box, "area": int(np.count_nonzero(o.amodal)),
                "fully_hidden": bool(o.fully_hidden), "iscrowd": 0,
                "occluded_by": [ids[t] for t in o.occluded_by if t in ids],
            })
        ann_id += len(objects)
    video_entry = {"id": video_id, "name": name, "width": w, "height": h, "fps": fps,
                   "num_frames": len(video.frames), "seed": video.seed}
    return {"videos": [video_entry], "tracks": tracks, "images": images,
            "annotations": annotations}


def write_video_set(out: str | Path, videos: Iterable[GeneratedVideo],
                    generator: dict[str, Any] | None = None) -> Path:
    """Write the frames as PNGs and annotations.json (written last, atomically); returns its
    path."""
    out = Path(out)
    data: dict[str, Any] = {
        "info": {"schema": SCHEMA, "generator": generator or {}},
        "categories": [dict(c) for c in CATEGORIES],
        "videos": [], "tracks": [], "images": [], "annotations": [],
    }
    for index, video in enumerate(videos):
        name = f"video_{index:05d}"
        entries = video_entries(video, index + 1, name, len(data["tracks"]) + 1,
                                len(data["images"]) + 1, len(data["annotations"]) + 1)
        for key, values in entries.items():
            data[key].extend(values)
        for f, frame in enumerate(video.frames):
            atomic_write_bytes(out / frame_file(name, f), _png(frame), durable=False)
    path = out / "annotations.json"
    atomic_write_bytes(path, (json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n")
                       .encode())
    return path


def _bad(path: Path, what: str) -> ValueError:
    return ValueError(f"{path}: {what}")


def _int(entry: dict[str, Any], key: str, path: Path, what: str) -> int:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(path, f"{what} has no integer {key!r}: {value!r}")
    return value


def read_video_set(path: str | Path, image_root: str | Path | None = None) -> list[VideoRecord]:
    """The videos of a "sameo-video/1" file (module docstring), frames in order; image paths
    resolve against `image_root` (default: the file's folder)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video annotation file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise _bad(path, f"not valid JSON ({error})") from None
    if not isinstance(data, dict) or data.get("info", {}).get("schema") != SCHEMA:
        raise _bad(path, f"not a {SCHEMA!r} file (info.schema)")
    for key in ("videos", "tracks", "images", "annotations"):
        if not isinstance(data.get(key), list):
            raise _bad(path, f"{key!r} must be a list")
    root = Path(image_root) if image_root else path.parent
    videos: dict[int, dict[str, Any]] = {}
    for v in data["videos"]:
        vid = _int(v, "id", path, "a video")
        for key in ("height", "width", "num_frames"):
            if _int(v, key, path, f"video {vid}") < 1:
                raise _bad(path, f"video {vid}: {key} must be ≥ 1")
        fps = v.get("fps")
        if not isinstance(fps, (int, float)) or not 0 < fps <= 1000:
            raise _bad(path, f"video {vid}: fps must be in (0, 1000], got {fps!r}")
        if vid in videos:
            raise _bad(path, f"video id {vid} appears twice")
        videos[vid] = {"entry": v, "tracks": {}, "frames": {}}
    for t in data["tracks"]:
        tid = _int(t, "id", path, "a track")
        vid = _int(t, "video_id", path, f"track {tid}")
        if vid not in videos:
            raise _bad(path, f"track {tid}: unknown video_id {vid}")
        if t.get("role") not in ROLES or t.get("motion") not in MOTIONS:
            raise _bad(path, f"track {tid}: role must be one of {ROLES} and motion one of "
                       f"{MOTIONS}")
        if any(tid in other["tracks"] for other in videos.values()):
            raise _bad(path, f"track id {tid} appears twice")
        videos[vid]["tracks"][tid] = TrackInfo(tid, _int(t, "category_id", path, f"track {tid}"),
                                               t["motion"], t["role"])
    image_of: dict[int, tuple[int, int]] = {}
    for im in data["images"]:
        iid = _int(im, "id", path, "an image")
        vid = _int(im, "video_id", path, f"image {iid}")
        f = _int(im, "frame_index", path, f"image {iid}")
        if vid not in videos:
            raise _bad(path, f"image {iid}: unknown video_id {vid}")
        v = videos[vid]
        n = v["entry"]["num_frames"]
        if not 0 <= f < n or f in v["frames"]:
            raise _bad(path, f"image {iid}: frame_index {f} is outside 0..{n - 1} or repeated")
        if (im.get("height"), im.get("width")) != (v["entry"]["height"], v["entry"]["width"]):
            raise _bad(path, f"image {iid}: size differs from its video's")
        if not isinstance(im.get("file_name"), str):
            raise _bad(path, f"image {iid}: no file_name")
        v["frames"][f] = {"image": im, "objects": []}
        image_of[iid] = (vid, f)
    annotations: dict[int, dict[str, Any]] = {}
    for a in data["annotations"]:
        aid = _int(a, "id", path, "an annotation")
        iid = _int(a, "image_id", path, f"annotation {aid}")
        if iid not in image_of:
            raise _bad(path, f"annotation {aid}: unknown image_id {iid}")
        vid, f = image_of[iid]
        tid = _int(a, "track_id", path, f"annotation {aid}")
        if tid not in videos[vid]["tracks"]:
            raise _bad(path, f"annotation {aid}: track {tid} is not a track of video {vid}")
        if aid in annotations:
            raise _bad(path, f"annotation id {aid} appears twice")
        annotations[aid] = a
        videos[vid]["frames"][f]["objects"].append(a)
    records = []
    for vid, v in videos.items():
        e = v["entry"]
        if len(v["frames"]) != e["num_frames"]:
            raise _bad(path, f"video {vid}: {len(v['frames'])} images for num_frames "
                       f"{e['num_frames']}")
        frames = []
        for f in range(e["num_frames"]):
            frame = v["frames"][f]
            objects = []
            seen: set[int] = set()
            for a in frame["objects"]:
                objects.append(_annotation(a, annotations, e["height"], e["width"], path))
                if a["track_id"] in seen:
                    raise _bad(path, f"annotation {a['id']}: track {a['track_id']} twice in "
                               f"frame {f} of video {vid}")
                seen.add(a["track_id"])
            frames.append(VideoFrame(f, f / float(e["fps"]), root / frame["image"]["file_name"],
                                     tuple(objects)))
        records.append(VideoRecord(vid, str(e.get("name", vid)), e["height"], e["width"],
                                   float(e["fps"]), int(e.get("seed", -1)), v["tracks"],
                                   tuple(frames)))
    return records


def _annotation(a: dict[str, Any], annotations: dict[int, dict[str, Any]], height: int,
                width: int, path: Path) -> VideoAnnotation:
    aid = a["id"]
    try:
        amodal = rle_utils.to_rle(a["segmentation"], height, width)
        visible = rle_utils.to_rle(a["visible_mask"], height, width)
    except (KeyError, TypeError, ValueError) as error:
        raise _bad(path, f"annotation {aid}: bad mask ({error})") from None
    if tuple(amodal["size"]) != (height, width) or tuple(visible["size"]) != (height, width):
        raise _bad(path, f"annotation {aid}: mask size differs from the image's")
    amodal_area, visible_area = rle_utils.area(amodal), rle_utils.area(visible)
    if amodal_area == 0:
        raise _bad(path, f"annotation {aid}: empty amodal mask")
    if rle_utils.area(rle_utils.intersect(amodal, visible)) != visible_area:
        raise _bad(path, f"annotation {aid}: visible mask is not inside the amodal mask")
    hidden = a.get("fully_hidden")
    if not isinstance(hidden, bool) or hidden != (visible_area == 0):
        raise _bad(path, f"annotation {aid}: fully_hidden must be true exactly when the "
                   f"visible mask is empty")
    front = a.get("occluded_by", [])
    if not isinstance(front, list) or any(k not in annotations or annotations[k]["image_id"]
                                          != a["image_id"] for k in front):  # fmt: skip
        raise _bad(path, f"annotation {aid}: occluded_by must list annotations of its frame")
    return VideoAnnotation(aid, a["track_id"], _int(a, "category_id", path, f"annotation {aid}"),
                           amodal, visible, hidden,
                           tuple(annotations[k]["track_id"] for k in front))


def generator_settings(config: Any, seed: int, num_videos: int) -> dict[str, Any]:
    return {"config": asdict(config), "seed": seed, "num_videos": num_videos}


__all__ = ["SCHEMA", "VideoAnnotation", "VideoFrame", "VideoRecord", "frame_file",
           "generator_settings", "read_video_set", "video_entries", "write_video_set"]

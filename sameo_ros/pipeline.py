"""One frame through SAMEO: paired input messages in, mask records out.

The one place in sameo_ros that calls the predictor (`FramePipeline._encode`, `_decode`,
`warmup`); the node's topic worker (`process_batch`: the frames of several cameras at once), its
service and the replay tool (`process`: one frame) all go through `FramePipeline`.
Per frame: the amodal and visible masks of the selected detections (sameo_core's predictor), the
3D of every object when depth is enabled (`sameo_core.inference.depth_lifting`), and the
occlusion order of the masks with the depth evidence added (`sameo_core.inference.
occlusion_order`), and with a camera's tracks (`FrameInputs.tracks`, camera_tracks.py) the
frame through its tracker while the predictor still holds the frame's image embedding, on which
the tracker's re-prompts decode. ROS-free: messages are read by attribute (conversions.py), so it
runs on a rosbag without ROS.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch

from sameo_core.camera import DepthInputError
from sameo_core.geometry import RoiMask
from sameo_core.inference import AmodalPredictor, Prediction, PredictorConfig
from sameo_core.inference.depth_lifting import DepthLifting, Object3D, lift_objects
from sameo_core.inference.occlusion_order import OcclusionOrder, occlusion_order
from sameo_core.inference.predictor import pair_evidence
from sameo_core.model import build_sameo
from sameo_core.tracking import DetectionInfo, TrackerResult

from .conversions import (
    Prompts,
    byte_view,
    camera_info_to_intrinsics,
    depth_image_to_metres,
    detections_to_prompts,
    is_compressed,
    stamp_ns,
    to_rgb,
)
from .params import NodeConfig

if TYPE_CHECKING:
    from .camera_tracks import CameraTracks

# Why a frame got no 3D when depth is enabled (beside sameo_core.camera's and depth_lifting's
# reasons, carried by DepthInputError): fixed strings, logged throttled by reason.
NO_DEPTH_IMAGE = "no depth image within sync_slop of the frame"
NO_CAMERA_INFO = "no CameraInfo within sync_slop of the frame"
NO_MODAL_HEAD = "the model has no modal head (3D needs visible masks)"
DEPTH_TOO_LARGE = "depth image of more than max_image_pixels pixels"
R = TypeVar("R")


@dataclass(frozen=True)
class FrameInputs:
    """The messages that make one frame, paired by stamp (an optional input is one more field).

    image: sensor_msgs/Image or CompressedImage; detections: vision_msgs/Detection2DArray;
    points: PointPrompts[] (empty, or one per detection; from SegmentAmodal requests);
    depth, camera_info: the depth Image and CameraInfo of the frame's stamp (None when none
    came within sync_slop; read only when the pipeline lifts to 3D);
    tracks: the camera's tracks (None: the frame alone, no tracking; the `segment` service).
    """

    image: Any
    detections: Any
    points: Any = ()
    depth: Any = None
    camera_info: Any = None
    tracks: CameraTracks | None = None


@dataclass(frozen=True)
class MaskRecord:
    """One object with everything its AmodalMask and Detection3D messages carry
    (messages.amodal_mask, messages.detection_3d)."""

    id: str
    class_id: str
    detector_score: float
    score: float
    iou: float
    prompt_box: np.ndarray  # xyxy, clipped to the image
    amodal_box: np.ndarray  # xyxy of the amodal mask, may leave the image
    amodal: RoiMask
    visible: RoiMask | None  # None: the model has no modal head
    visible_fraction: float  # |visible| / |amodal|; NaN when unknown
    occluded_by: tuple[str, ...] = ()  # ids of the objects in front of this one
    occludes: tuple[str, ...] = ()
    rank: int = -1  # 0 = nothing in front; -1 = unknown (no visible masks)
    object_3d: Object3D | None = None  # with depth: the object's 3D, None when it has none
    no_3d_reason: str = ""  # with depth: why object_3d is None
    # Tracking (camera_tracks.py): track id (0: none), TrackState value, seconds since last
    # detected (HIDDEN), frames since the track started.
    track_id: int = 0
    track_state: int = 0
    seconds_hidden: float = 0.0
    age: int = 0


# FrameResult.timings_ms keys. `model` is the time in the predictor (set_image + predict, and
# the tracker's re-prompts); the encoder, decoder and postprocess stages partition it (within
# the predictor's own overhead). `tracker`: the camera's tracker without its re-prompts.
TIMINGS = ("convert", "model", "encoder", "decoder", "postprocess", "lifting", "order",
           "tracker")


@dataclass
class FrameResult:
    # The input as RGB uint8 [H, W, 3]: numpy, or a torch tensor on the model's CUDA device
    # when it was decoded there (a JPEG by nvjpeg, README "ROS 2 node"); host_image() to draw.
    image: Any
    records: list[MaskRecord]
    rejected: dict[str, str] = field(default_factory=dict)  # detection id -> reason
    timings_ms: dict[str, float] = field(default_factory=dict)  # TIMINGS, milliseconds
    encoded: bool = True  # False when the image was the one encoded last (decoder only)
    depth_error: DepthInputError | None = None  # with depth: why the frame has no 3D at all
    tracking: TrackerResult | None = None  # with tracks: the tracker's result (its warnings)

    def host_image(self) -> np.ndarray:
        """The input image as a numpy array (copied from the GPU when it was decoded there; a
        debug overlay is drawn only while someone subscribes, so only then is it copied)."""
        if isinstance(self.image, np.ndarray):
            return self.image
        return self.image.cpu().numpy()


@dataclass(frozen=True)
class Selection:
    """Which detections of a frame are segmented (the runtime-changeable parameters)."""

    score_threshold: float = 0.0
    max_detections: int = 20


def build_predictor(config: NodeConfig) -> AmodalPredictor:
    """The SAMEO predictor the config asks for. Without a checkpoint: random weights with both
    heads (tests only: every output of the node exists, none means anything)."""
    model = build_sameo(
        variant=config.variant or None, checkpoint=config.checkpoint or None,
        modal_head=None if config.checkpoint else True,
    )  # fmt: skip
    predictor_config = PredictorConfig(
        mask_threshold=config.mask_threshold, invalid_boxes="skip", chunk_size=config.chunk_size
    )
    return AmodalPredictor(
        model, device=config.device, dtype=getattr(torch, config.dtype), config=predictor_config
    )


def stage_seconds(prediction: Prediction) -> dict[str, float]:
    """A prediction's stage times as the node reports them (FrameStats): encoder (the set_image
    before it), decoder = prompt encoding + mask decoder of every head, postprocess =
    post-processing + copies to the host; seconds."""
    t = prediction.timings
    if t is None:
        return {"encoder": 0.0, "decoder": prediction.decoder_s, "postprocess": 0.0}
    return {"encoder": t.encoder_s, "decoder": t.prompt_s + sum(t.decoder_s.values()),
            "postprocess": t.postprocess_s + t.copy_s}  # fmt: skip


def _attempt(step: Callable[..., R], *args: Any) -> R | Exception:
    """`step(*args)`, or the Exception it raised (one frame's failure stays that frame's)."""
    try:
        return step(*args)
    except Exception as error:
        return error


def select_prompts(prompts: Prompts, selection: Selection) -> list[int]:
    """Indices (in input order) of the highest-scoring prompts at or above the threshold."""
    ranked = sorted(
        (i for i in range(len(prompts)) if not prompts.scores[i] < selection.score_threshold),
        key=lambda i: -prompts.scores[i],
    )
    return sorted(ranked[: selection.max_detections])


class ImageKey:
    """What identifies an encoded image: stamp, frame_id, size/format and the bytes themselves.

    Holds a view of the message's data (no copy); equal keys mean the encoder may be skipped.
    """

    def __init__(self, msg: Any) -> None:
        layout = (msg.format,) if is_compressed(msg) else (
            int(msg.height), int(msg.width), msg.encoding, int(msg.step))  # fmt: skip
        self.fields = (stamp_ns(msg.header.stamp), str(msg.header.frame_id), *layout)
        self.data = byte_view(msg.data)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ImageKey)
            and self.fields == other.fields
            and np.array_equal(self.data, other.data)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable buffer: not hashable


@dataclass
class _Prepared:
    """A frame's image and prompts, converted, before the model."""

    rgb: Any  # numpy, or a CUDA tensor (FrameResult.image)
    key: ImageKey
    prompts: Prompts
    convert_s: float
    given_ids: tuple[bool, ...] = ()  # per prompt: the detector gave its id (not the index)
    tracked: bool = False  # its camera has live tracks: the image is encoded without prompts

    @property
    def needs_model(self) -> bool:
        return bool(len(self.prompts)) or self.tracked


@dataclass
class _ModelOutput:
    """The predictor's answer for one frame."""

    masks: list
    rejected: dict[int, str]  # index in the frame's prompts -> reason
    stages: dict[str, float]  # encoder, decoder, postprocess (s): partition `model_s`
    model_s: float = 0.0  # this frame's time in the predictor (its share of a batched encoder)
    encoded: bool = False  # the encoder ran for this frame (else: its image was encoded already)


NO_MODEL = _ModelOutput([], {}, {"encoder": 0.0, "decoder": 0.0, "postprocess": 0.0})


class FramePipeline:
    """Runs the predictor on frames' messages and turns its masks into MaskRecords.

    Thread-safe: one call at a time holds the model (the node's worker and its service share
    it). The image encoder runs only for images that are not encoded already (same stamp,
    frame_id, layout and bytes as one of the images encoded last). With `batch_encoder` (by
    default on CUDA) the frames of several cameras taken together go through the encoder as one
    batch (`AmodalPredictor.set_images`), then through the decoders one by one.
    """

    def __init__(
        self, predictor: AmodalPredictor, selection: Selection, lift: bool = False,
        max_image_pixels: int = NodeConfig.max_image_pixels, batch_encoder: bool | None = None,
    ) -> None:  # fmt: skip
        self.predictor: AmodalPredictor | None = predictor
        self.selection = selection
        self.lift = lift  # depth enabled: lift every frame's objects to 3D
        self.max_image_pixels = max_image_pixels
        self._batch = predictor.device.type == "cuda" if batch_encoder is None else batch_encoder
        self._lock = threading.Lock()
        self._encoded: list[ImageKey] = []  # the images the predictor holds, by index

    @classmethod
    def from_config(cls, config: NodeConfig) -> FramePipeline:
        selection = Selection(config.score_threshold, config.max_detections)
        return cls(build_predictor(config), selection, config.depth, config.max_image_pixels)

    @property
    def batched_encoder(self) -> bool:
        """Whether frames of several cameras go through the encoder as one batch (on CUDA: one
        encoder pass for all of them; on a CPU the encoder's work grows with the images, and the
        first camera's frame would wait for the others')."""
        return self._batch

    @property
    def has_visible(self) -> bool:
        """Whether the masks come with visible masks (the model has a modal head)."""
        predictor = self.predictor
        return predictor is not None and predictor.has_modal_head and predictor.config.modal

    def update(self, selection: Selection, mask_threshold: float) -> None:
        """New runtime parameters; they apply from the next frame on."""
        with self._lock:
            self.selection = selection
            if self.predictor is not None:
                config = replace(self.predictor.config, mask_threshold=mask_threshold)
                self.predictor.config = config

    def process(self, inputs: FrameInputs, lift: bool | None = None) -> FrameResult:
        """Masks for the detections of `inputs` on its image, their occlusion order, and with
        depth (`lift`, default: the pipeline's setting) their 3D. ConversionError (a
        ValueError) for an unusable image or prompts; other errors come from the model. Depth
        problems never raise: the frame keeps its 2D result and `depth_error` says why it has
        no 3D."""
        (result,) = self.process_batch([inputs], lift)
        if isinstance(result, Exception):
            raise result
        return result

    def process_batch(
        self, frames: Sequence[FrameInputs], lift: bool | None = None
    ) -> list[FrameResult | Exception]:
        """`process` of several frames (one per camera), in order: each one's FrameResult, or
        the exception that frame raised (a bad frame costs only itself)."""
        lift = self.lift if lift is None else lift
        with self._lock:
            prepared = [_attempt(self._prepare, f) for f in frames]
            results: list[FrameResult | Exception] = []
            # each frame is finished while its embedding is held (its tracker re-prompts on it)
            for inputs, ready, output in zip(frames, prepared, self._run_model(prepared)):
                if isinstance(ready, Exception) or isinstance(output, Exception):
                    results.append(ready if isinstance(ready, Exception) else output)
                else:
                    results.append(_attempt(self._finish, inputs, ready, output, lift))
            return results

    def _prepare(self, inputs: FrameInputs) -> _Prepared:
        started = time.perf_counter()
        # On a CUDA device the image goes there here: a JPEG is decoded by nvjpeg on it, any other
        # image is copied once (pinned, non-blocking), and the predictor takes the tensor as it is.
        device = self.predictor.device if self.predictor is not None else None
        rgb = to_rgb(inputs.image, self.max_image_pixels,
                     device if device is not None and device.type == "cuda" else None)
        prompts = detections_to_prompts(inputs.detections, inputs.points)
        selected = select_prompts(prompts, self.selection)
        given = tuple(bool(inputs.detections.detections[i].id) for i in selected)
        tracked = inputs.tracks is not None and inputs.tracks.live > 0
        return _Prepared(rgb, ImageKey(inputs.image), prompts.subset(selected),
                         time.perf_counter() - started, given, tracked)  # fmt: skip

    def _finish(
        self, inputs: FrameInputs, frame: _Prepared, model: _ModelOutput, lift: bool
    ) -> FrameResult:
        """The 3D and order of one frame's masks, and its records."""
        t2 = time.perf_counter()
        lifting, depth_error = self._lift(inputs, model.masks, frame.rgb.shape[:2]) if lift else (
            None, None)  # fmt: skip
        t3 = time.perf_counter()
        order = self._order(model.masks, lifting)
        records = self._records(model.masks, frame.prompts, order, lifting)
        t4 = time.perf_counter()
        timings = {"convert": frame.convert_s, "model": model.model_s, **model.stages,
                   "lifting": t3 - t2, "order": t4 - t3, "tracker": 0.0}  # fmt: skip
        tracking = None
        if inputs.tracks is not None:
            records, tracking = self._track(inputs, frame, model.masks, order, records, lift,
                                            timings)  # fmt: skip
        ids = frame.prompts.ids
        return FrameResult(
            frame.rgb, records, {ids[i]: why for i, why in model.rejected.items()},
            {k: timings[k] * 1000.0 for k in TIMINGS}, model.encoded, depth_error, tracking,
        )  # fmt: skip

    def _track(
        self, inputs: FrameInputs, frame: _Prepared, masks: list, order: OcclusionOrder | None,
        records: list[MaskRecord], lift: bool, timings: dict[str, float],
    ) -> tuple[list[MaskRecord], TrackerResult]:  # fmt: skip
        """The frame through its camera's tracker: the records with their tracks, and the
        tracker's result. The re-prompts' predictor time joins the frame's model time."""
        tracks = inputs.tracks
        assert tracks is not None
        prompts = frame.prompts
        detections = [DetectionInfo(prompts.ids[i] if frame.given_ids[i] else "",
                                    prompts.class_ids[i], float(prompts.scores[i]))
                      for i in range(len(prompts))]  # fmt: skip

        def reprompt(boxes: np.ndarray) -> list:
            started = time.perf_counter()
            prediction = self._reprompt(frame, boxes)
            timings["model"] += time.perf_counter() - started
            for stage, seconds in stage_seconds(prediction).items():
                timings[stage] += seconds
            return prediction.masks

        def lift_masks(recovered: list) -> list[tuple[Object3D | None, str]]:
            lifting, _ = self._lift(inputs, recovered, frame.rgb.shape[:2])
            if lifting is None:  # no 3D for the frame at all: said once, by depth_error
                return [(None, "")] * len(recovered)
            objects = {o.index: o for o in lifting.objects}
            return [(objects.get(i), lifting.failed.get(i, "")) for i in range(len(recovered))]

        try:
            tracked = tracks.track(
                stamp_ns(inputs.image.header.stamp) * 1e-9, masks, order, detections,
                frame.rgb.shape[:2], records, reprompt, self.has_visible,
                lift_masks if lift else None,
            )  # fmt: skip
        except (TypeError, ValueError) as error:  # input the tracker refuses: the masks go out
            return records, TrackerResult([], warnings=[f"frame not tracked: {error}"])
        timings["tracker"] = tracked.result.tracker_s
        return tracked.records, tracked.result

    # The predictor: every use of its API is in the methods below.
    def _run_model(
        self, prepared: list[_Prepared | Exception]
    ) -> Iterator[_ModelOutput | Exception]:
        """The predictor's answer for every converted frame, in order (frames that failed to
        convert get their exception again; frames without prompts NO_MODEL, unless their camera
        has live tracks: then the image is encoded for the tracker's re-prompts). Each answer
        is yielded while the predictor still holds that frame's embedding: one by one, before
        the next frame's image replaces it; batched, all of them at once."""
        todo = [k for k, p in enumerate(prepared) if isinstance(p, _Prepared) and p.needs_model]
        frames = [prepared[k] for k in todo]
        batched = None
        if todo and self.predictor is not None:
            fresh = [f for f in frames if f.key not in self._encoded]  # type: ignore[union-attr]
            if self._batch and len(fresh) > 1:
                batched = _attempt(self._batched, frames)
        for k, p in enumerate(prepared):
            if isinstance(p, Exception):
                yield p
            elif k not in todo:
                yield NO_MODEL
            elif self.predictor is None:
                yield RuntimeError("the model was released (cleanup); configure the node again")
            elif isinstance(batched, list):
                yield batched[todo.index(k)]
            else:  # one by one; also when a batch failed, so that a bad image costs only itself
                yield _attempt(self._one, p)

    def _one(self, frame: _Prepared) -> _ModelOutput:
        """set_image (unless encoded already) + predict of one frame."""
        predictor = self.predictor
        assert predictor is not None
        started = time.perf_counter()
        encoded = frame.key not in self._encoded
        if encoded:
            self._encoded = []  # a failing encoder leaves no stale embedding behind
            predictor.set_image(frame.rgb)
            self._encoded = [frame.key]
        prediction = self._predict(frame, self._encoded.index(frame.key))
        output = self._output(prediction, time.perf_counter() - started)
        output.encoded = encoded
        return output

    def _batched(self, frames: list[_Prepared]) -> list[_ModelOutput | Exception]:
        """set_images of every frame in one encoder pass, then predict of each frame; each
        frame gets an equal share of the encoder's time (FrameStats.encoder_ms)."""
        predictor = self.predictor
        assert predictor is not None
        started = time.perf_counter()
        self._encoded = []
        predictor.set_images([f.rgb for f in frames])
        self._encoded = [f.key for f in frames]
        share = (time.perf_counter() - started) / len(frames)
        timed: list[tuple[Prediction, float] | Exception] = []
        for k, frame in enumerate(frames):
            started = time.perf_counter()
            prediction = _attempt(self._predict, frame, k)
            timed.append(prediction if isinstance(prediction, Exception) else
                         (prediction, time.perf_counter() - started))  # fmt: skip
        # The first predict after set_images reports the batch's encoder time: share it out.
        encoder_s = sum(t[0].timings.encoder_s for t in timed if not isinstance(t, Exception)
                        and t[0].timings is not None)  # fmt: skip
        outputs: list[_ModelOutput | Exception] = []
        for entry in timed:
            if isinstance(entry, Exception):
                outputs.append(entry)
                continue
            output = self._output(entry[0], share + entry[1])
            output.stages["encoder"] = encoder_s / len(frames)
            output.encoded = True
            outputs.append(output)
        return outputs

    def _predict(self, frame: _Prepared, image: int) -> Prediction:
        assert self.predictor is not None
        prompts = frame.prompts
        return self.predictor.predict(
            prompts.boxes, prompts.scores, points=prompts.points,
            point_labels=prompts.point_labels, image=image,
        )  # fmt: skip

    def _reprompt(self, frame: _Prepared, boxes: np.ndarray) -> Prediction:
        """The decoders on `frame`'s embedding (still held: _run_model) for the tracker's
        predicted amodal boxes."""
        if self.predictor is None or frame.key not in self._encoded:
            raise RuntimeError("the frame's image embedding is no longer held")
        return self.predictor.predict(boxes, image=self._encoded.index(frame.key))

    @staticmethod
    def _output(prediction: Prediction, model_s: float) -> _ModelOutput:
        return _ModelOutput(prediction.masks, dict(prediction.rejected), stage_seconds(prediction),
                            model_s)  # fmt: skip

    def warmup(self, height: int = 480, width: int = 640) -> float:
        """One frame of `height` x `width` with max_detections boxes through the model (the
        first call initialises kernels and allocations); its time in ms. Leaves nothing
        encoded."""
        with self._lock:
            if self.predictor is None:
                raise RuntimeError("the model was released (cleanup); configure the node again")
            self._encoded = []
            return self.predictor.warmup((height, width), self.selection.max_detections) * 1e3

    def _lift(
        self, inputs: FrameInputs, masks: list, image_hw: tuple[int, int]
    ) -> tuple[DepthLifting | None, DepthInputError | None]:
        """The 3D of the frame's objects, or why there is none (never raises for bad depth)."""
        try:
            if inputs.depth is None:
                raise DepthInputError(NO_DEPTH_IMAGE, "depth is enabled but none was paired")
            if inputs.camera_info is None:
                raise DepthInputError(NO_CAMERA_INFO, "depth is enabled but none was paired")
            if masks and masks[0].visible is None:
                raise DepthInputError(NO_MODAL_HEAD, "load a checkpoint with a modal head")
            width, height = int(inputs.depth.width), int(inputs.depth.height)
            if width * height > self.max_image_pixels:  # the colour image's bound, from the header
                raise DepthInputError(DEPTH_TOO_LARGE, f"{width}x{height}, max_image_pixels = "
                                      f"{self.max_image_pixels}")  # fmt: skip
            depth_m = depth_image_to_metres(inputs.depth)
            intrinsics = camera_info_to_intrinsics(inputs.camera_info)
            lifting = lift_objects(
                [m.visible for m in masks], [m.amodal for m in masks], depth_m, intrinsics,
                image_hw,
            )  # fmt: skip
        except DepthInputError as error:
            return None, error
        return lifting, None

    @staticmethod
    def _order(masks: list, lifting: DepthLifting | None) -> OcclusionOrder | None:
        """Who occludes whom (None without visible masks); with depth, its evidence counts, and
        with a network's order head, its pair scores (`Prediction.pair_order`)."""
        if not masks or masks[0].visible is None:
            return None
        evidence = lifting.order_evidence if lifting is not None else None
        return occlusion_order([m.amodal for m in masks], [m.visible for m in masks], evidence,
                               learned_evidence=pair_evidence(masks))

    @staticmethod
    def _records(
        masks: list, prompts: Prompts, order: OcclusionOrder | None,
        lifting: DepthLifting | None,
    ) -> list[MaskRecord]:  # fmt: skip
        ids = [prompts.ids[m.index] for m in masks]
        objects = {o.index: o for o in lifting.objects} if lifting is not None else {}
        failed = lifting.failed if lifting is not None else {}
        records = []
        for k, m in enumerate(masks):
            records.append(MaskRecord(
                id=ids[k], class_id=prompts.class_ids[m.index],
                detector_score=float(prompts.scores[m.index]), score=float(m.score),
                iou=float(m.iou), prompt_box=np.asarray(m.prompt_box, np.float64),
                amodal_box=np.asarray(m.box, np.float64), amodal=m.amodal, visible=m.visible,
                visible_fraction=float("nan") if m.visible_fraction is None
                else float(m.visible_fraction),
                occluded_by=() if order is None else tuple(ids[i] for i in order.occluded_by[k]),
                occludes=() if order is None else tuple(ids[i] for i in order.occludes[k]),
                rank=-1 if order is None else int(order.rank[k]),
                object_3d=objects.get(k), no_3d_reason=failed.get(k, ""),
            ))  # fmt: skip
        return records

    def model_bytes(self) -> int:
        """Bytes of the model's parameters and buffers (0 once released)."""
        predictor = self.predictor
        if predictor is None:
            return 0
        tensors = [*predictor.model.parameters(), *predictor.model.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors)

    def release(self) -> None:
        """Drop the model and the image embedding, and give GPU memory back to the device."""
        with self._lock:
            if self.predictor is None:
                return
            device = self.predictor.device
            self.predictor = None
            self._encoded = []
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()

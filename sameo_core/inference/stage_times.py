"""Where the time of a frame goes: the stage times of `set_image` + `predict`.

`StageClock` splits a call at named marks: the time since the previous mark belongs to the named
stage (a stage named again accumulates, e.g. the decoder of every chunk). On a CPU the marks are
`time.perf_counter()` readings, so the stages partition the wall time of the call exactly. On
CUDA a mark records a CUDA event on the current stream and costs no host sync; the intervals
between consecutive events are read only after the call's last transfer has synced, and they add
up to the device timeline of the call (which is its wall time whenever the host keeps the GPU
fed). Work on the host after the last sync (building the crops) is timed with perf_counter.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import torch

from sameo_core.model.sameo import Head


@dataclass(frozen=True)
class StageTimes:
    """Seconds per stage of one frame: the `set_image` before a `predict`, and that `predict`.

    encoder_s: the `set_image`/`set_images` calls since the previous `predict` (image upload,
      conversion to float, resize and normalisation, the image encoder); 0 when the embedding was
      made for an earlier `predict`.
    prompt_s: input checks, box validation, the upload of the prompts and the prompt encoder.
    decoder_s: the mask decoder of each head that ran, all chunks.
    postprocess_s: best-IoU choice, upsampling to the image, threshold, visible/hidden split,
      areas and tight boxes on the device, and building the `RoiMask` crops on the host (on the
      "roi" path also its per-box copies to the host).
    copy_s: the device→host copies of the batched path, waits included.
    Their sum (`total_s`) is the time of `set_image` + `predict`, exactly on a CPU.
    """

    encoder_s: float = 0.0
    prompt_s: float = 0.0
    decoder_s: dict[Head, float] = field(default_factory=dict)
    postprocess_s: float = 0.0
    copy_s: float = 0.0

    @property
    def total_s(self) -> float:
        return (self.encoder_s + self.prompt_s + sum(self.decoder_s.values())
                + self.postprocess_s + self.copy_s)  # fmt: skip

    def as_ms(self) -> dict[str, float]:
        """Milliseconds per stage, the decoder per head as "decoder_<head>"."""
        times = {"encoder": self.encoder_s, "prompt": self.prompt_s,
                 **{f"decoder_{head}": s for head, s in self.decoder_s.items()},
                 "postprocess": self.postprocess_s, "copy": self.copy_s}  # fmt: skip
        return {name: s * 1e3 for name, s in times.items()}


class StageClock:
    """The stage marks of one call on `device` (see the module docstring)."""

    def __init__(self, device: torch.device) -> None:
        self._cuda = device.type == "cuda"
        self._host: dict[str, float] = defaultdict(float)
        self._device: list[tuple[str, torch.cuda.Event, torch.cuda.Event]] = []
        self.start = time.perf_counter()
        self._last = self.start
        self._event = self._record()

    def _record(self) -> torch.cuda.Event | None:
        if not self._cuda:
            return None
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def mark(self, stage: str, host: bool = False) -> None:
        """The time since the previous mark belongs to `stage`. `host=True`: timed on the host
        also on CUDA (host work after the device caught up, `resume`)."""
        now = time.perf_counter()
        if self._cuda and not host and self._event is not None:
            event = self._record()
            self._device.append((stage, self._event, event))
            self._event = event
        else:
            self._host[stage] += now - self._last
            if self._cuda and not host:
                self._event = self._record()  # a new chain of device intervals starts here
        self._last = now

    def resume(self) -> None:
        """Call after a sync that ended the device work: on CUDA the wait is device time that
        the event intervals hold already, and the host's marks go on from now. No-op on a CPU."""
        if self._cuda:
            self._last = time.perf_counter()
            self._event = None

    def elapsed(self) -> float:
        """Host wall time since the clock started (seconds)."""
        return time.perf_counter() - self.start

    def span(self) -> float:
        """Host wall time from the start to the last mark (seconds): on a CPU the sum of
        `times()`."""
        return self._last - self.start

    def wait(self) -> None:
        """Block until the device reached the last mark (only where no copy synced)."""
        if self._event is not None:
            self._event.synchronize()

    def times(self) -> dict[str, float]:
        """Seconds per stage; on CUDA only once the device has passed every mark."""
        times = dict(self._host)
        if self._device:
            self._device[-1][2].synchronize()  # done already after a copy's sync
        for stage, start, end in self._device:
            times[stage] = times.get(stage, 0.0) + start.elapsed_time(end) / 1e3
        return times


__all__ = ["StageClock", "StageTimes"]

"""Host syncs: the predictor's device→host transfer point, and a counter of syncs and ops.

A *host sync* is a point where the host must wait for the device's results before it can go on:
on CUDA each one drains the stream (about 15–25 µs plus the idle pipeline, README, "Predicting
amodal masks"). `SyncCounter` is a `TorchDispatchMode` that counts, while it is active in its
thread, every dispatched aten op and, among them, those that sync:

* scalar reads: `item` / `_local_scalar_dense` (`.item()`, `float(t)`, `int(t)`, `bool(t)`),
  `equal`, `is_nonzero`;
* ops whose output shape depends on the data: `nonzero`, `masked_select`, the `unique` family,
  `bincount`, indexing with a boolean mask (`index`/`index_put_` with a bool index), and
  `repeat_interleave` without `output_size`;
* blocking host→device copies (`copy_` into a CUDA tensor without `non_blocking`, which waits
  for the stream; `copy_to_device` avoids them);
* device→host copies: `copy_` / `_to_copy` from a non-CPU tensor into a CPU one (on CUDA), and
  `copy_to_host` of a tensor that is already on the CPU (there no op is dispatched: the call
  itself is counted, so that a CPU run counts the transfers a CUDA run makes).

The counts do not depend on timing, so tests may assert them. Besides, `tensor_to_numpy` counts
`Tensor.numpy()` calls of any tensor (host-side arrays included): how the old per-box code, which
copied each crop with `.cpu().numpy()`, is compared on a CPU, where such copies dispatch nothing.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from .stage_times import StageClock

_local = threading.local()

# Ops that return data the host must read (scalars) or whose output size depends on the data.
SYNC_OPS = frozenset({
    "item", "_local_scalar_dense", "equal", "is_nonzero", "nonzero", "masked_select", "unique_dim",
    "_unique", "_unique2", "unique_consecutive", "unique_dim_consecutive", "bincount",
})


def _counters() -> list[SyncCounter]:
    if not hasattr(_local, "counters"):
        _local.counters = []
    return _local.counters


def copy_to_host(tensor: torch.Tensor, clock: StageClock | None = None) -> np.ndarray:
    """The one way the predictor brings device results to the host: a numpy array of `tensor`.

    On CUDA: a non-blocking copy into pinned (page-locked) memory, the `clock`'s "copy" mark,
    then one wait for the stream (one host sync, whatever else is still queued before it). On a
    CPU: the tensor's own memory, no copy; the call is counted by active `SyncCounter`s as the
    transfer it is on CUDA.
    """
    if tensor.device.type == "cpu":
        for counter in _counters():
            counter.count_transfer()
        array = tensor.numpy()
        if clock is not None:
            clock.mark("copy")
        return array
    if tensor.device.type != "cuda":
        array = tensor.cpu().numpy()
        if clock is not None:
            clock.mark("copy")
        return array
    host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
    host.copy_(tensor, non_blocking=True)
    if clock is not None:
        clock.mark("copy")
    torch.cuda.current_stream(tensor.device).synchronize()
    return host.numpy()


def copy_to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A host array on `device`, without a host sync: on CUDA through pinned memory with a
    non-blocking copy (a copy from pageable memory would wait for the stream); on a CPU the
    array's own memory (a copy of it when it is read-only or not contiguous)."""
    if device.type == "cpu":
        if not array.flags.writeable or not array.flags.c_contiguous:
            array = np.array(array)  # torch cannot wrap read-only memory
        return torch.from_numpy(array)
    if device.type != "cuda":
        return torch.from_numpy(np.array(array)).to(device)
    dtype = torch.from_numpy(np.empty(0, array.dtype)).dtype
    pinned = torch.empty(array.shape, dtype=dtype, pin_memory=True)
    pinned.numpy()[...] = array
    return pinned.to(device, non_blocking=True)


def _syncs_in(func: torch._ops.OpOverload, args: tuple, kwargs: dict) -> str | None:
    """The kind of host sync `func(*args, **kwargs)` makes, or None."""
    name = func.overloadpacket.__name__.rstrip("_")
    if name in SYNC_OPS:
        return name
    if name in ("index", "index_put"):
        indices = args[1] if len(args) > 1 else kwargs.get("indices", ())
        if any(i is not None and i.dtype in (torch.bool, torch.uint8) for i in indices):
            return f"{name} with a bool mask"
    if name == "repeat_interleave" and func._overloadname == "Tensor":
        if kwargs.get("output_size") is None:
            return "repeat_interleave without output_size"
    if name == "copy" and len(args) > 1:
        if args[0].device.type == "cpu" and args[1].device.type != "cpu":
            return "device→host copy"
        non_blocking = args[2] if len(args) > 2 else kwargs.get("non_blocking", False)
        if args[1].device.type == "cpu" and args[0].device.type != "cpu" and not non_blocking:
            return "blocking host→device copy"
    if name == "_to_copy" and kwargs.get("device") is not None:
        source, target = args[0].device.type, torch.device(kwargs["device"]).type
        if source != "cpu" and target == "cpu":
            return "device→host copy"
        if source == "cpu" and target != "cpu" and not kwargs.get("non_blocking", False):
            return "blocking host→device copy"
    return None


@dataclass
class SyncCounts:
    """What one counted block did: ops dispatched, host syncs (by kind), `Tensor.numpy()` calls."""

    ops: int = 0
    syncs: Counter = field(default_factory=Counter)
    op_names: Counter = field(default_factory=Counter)
    tensor_to_numpy: int = 0

    @property
    def sync_total(self) -> int:
        return sum(self.syncs.values())

    def as_dict(self) -> dict[str, object]:
        return {"ops": self.ops, "syncs": self.sync_total, "syncs_by_kind": dict(self.syncs),
                "tensor_to_numpy": self.tensor_to_numpy}  # fmt: skip


class SyncCounter(TorchDispatchMode):
    """Counts the ops and host syncs of the code run inside `with SyncCounter() as counter:`
    (this thread only); the totals are in `counter.counts`."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = SyncCounts()
        self._numpy = None

    def count_transfer(self) -> None:
        self.counts.syncs["device→host copy"] += 1

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.counts.ops += 1
        self.counts.op_names[func.overloadpacket.__name__] += 1
        kind = _syncs_in(func, args, kwargs)
        if kind is not None:
            self.counts.syncs[kind] += 1
        return func(*args, **kwargs)

    def __enter__(self) -> SyncCounter:
        _counters().append(self)
        self._numpy = torch.Tensor.numpy
        original, owner = self._numpy, threading.get_ident()

        def counted_numpy(tensor: torch.Tensor, *args, **kwargs) -> np.ndarray:
            if threading.get_ident() == owner:
                self.counts.tensor_to_numpy += 1
            return original(tensor, *args, **kwargs)

        torch.Tensor.numpy = counted_numpy
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        torch.Tensor.numpy = self._numpy
        _counters().remove(self)
        return super().__exit__(*exc)


def count_syncs(fn, *args, **kwargs) -> tuple[object, SyncCounts]:
    """Run `fn(*args, **kwargs)` under a `SyncCounter`: (its result, the counts)."""
    with SyncCounter() as counter:
        result = fn(*args, **kwargs)
    return result, counter.counts


__all__ = [
    "SYNC_OPS", "SyncCounter", "SyncCounts", "copy_to_device", "copy_to_host", "count_syncs",
]

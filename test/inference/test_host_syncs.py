"""The sync and op counter (a TorchDispatchMode) and the predictor's transfer points."""

import numpy as np
import torch

from sameo_core.inference.host_syncs import SyncCounter, copy_to_device, copy_to_host, count_syncs


def test_each_kind_of_host_sync_is_counted():
    x = torch.arange(12.0)
    with torch.inference_mode(), SyncCounter() as counter:
        float(x[3])  # scalar read
        x.max().item()
        torch.nonzero(x > 5)
        x[x > 5]  # boolean-mask indexing
        torch.masked_select(x, x > 2)
        torch.unique(x)
        torch.repeat_interleave(torch.tensor([1, 2]))  # output size from the data
    syncs = counter.counts.syncs
    assert syncs["item"] == 2
    assert syncs["nonzero"] == 1
    assert syncs["index with a bool mask"] == 1
    assert syncs["masked_select"] == 1
    assert sum(v for k, v in syncs.items() if "unique" in k) == 1
    assert syncs["repeat_interleave without output_size"] == 1
    assert counter.counts.sync_total == 7


def test_sync_free_ops_are_counted_as_ops_only():
    x = torch.arange(12.0).reshape(3, 4)
    with torch.inference_mode(), SyncCounter() as counter:
        y = (x * 2).amax(dim=1)
        torch.where(x > 3, x, 0.0).sum(dim=0)
        x[torch.tensor([0, 2])]  # integer indexing: no sync
        torch.repeat_interleave(torch.tensor([1, 2]), torch.tensor([2, 1]), output_size=3)
    assert counter.counts.sync_total == 0
    assert counter.counts.ops >= 8
    assert counter.counts.op_names["amax"] == 1
    assert y.tolist() == [6.0, 14.0, 22.0]


def test_copy_to_host_is_one_counted_transfer_on_a_cpu():
    tensor = torch.arange(6, dtype=torch.uint8).reshape(2, 3)
    (array, counts) = count_syncs(copy_to_host, tensor)
    assert counts.syncs == {"device→host copy": 1}
    np.testing.assert_array_equal(array, tensor.numpy())


def test_tensor_to_numpy_calls_are_counted_and_the_patch_is_undone():
    original = torch.Tensor.numpy
    with SyncCounter() as counter:
        torch.ones(3).numpy()
        np.asarray(torch.zeros(2))
    assert counter.counts.tensor_to_numpy == 2
    assert torch.Tensor.numpy is original
    assert counter.counts.as_dict()["tensor_to_numpy"] == 2


def test_copy_to_device_takes_read_only_and_strided_arrays():
    array = np.arange(24, dtype=np.uint8).reshape(4, 6)
    view = np.frombuffer(array.tobytes(), np.uint8).reshape(4, 6)
    for source in (view, array[:, ::2]):
        tensor = copy_to_device(source, torch.device("cpu"))
        np.testing.assert_array_equal(tensor.numpy(), source)

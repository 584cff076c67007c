"""Several processes, one model: torchrun's environment, process groups and metric sums.

``torchrun`` (``python -m torch.distributed.run``) starts one process per GPU and sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` (and the rendezvous address). Each process trains a
:class:`~torch.nn.parallel.DistributedDataParallel` replica on its slice of every batch; NCCL
carries the gradients between GPUs, gloo between CPU processes. Only rank 0 logs and writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    enabled: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env() -> Dist:
    """The process's place in a torchrun launch; a plain run is rank 0 of 1."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return Dist()
    world = int(os.environ["WORLD_SIZE"])
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    return Dist(rank=rank, world=world, local_rank=local, enabled=True)


def setup(dist: Dist, device: torch.device) -> None:
    """Join the process group: NCCL between GPUs, gloo between CPU processes."""
    import torch
    import torch.distributed as td

    if not dist.enabled or td.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs = {"device_id": device} if device.type == "cuda" else {}
    td.init_process_group(backend=backend, rank=dist.rank, world_size=dist.world, **kwargs)


def teardown(dist: Dist, finished: bool = True) -> None:
    """Leave the process group. After a normal run, wait for every process first: gloo aborts a
    process ("terminate called without an active exception") whose peer closed the group while
    its own threads still used the connection. After an error there is no waiting for peers."""
    import torch.distributed as td

    if dist.enabled and td.is_initialized():
        if finished:
            td.barrier()
        td.destroy_process_group()


def all_sum(values: torch.Tensor, dist: Dist) -> torch.Tensor:
    """Sum a tensor over all processes (in place, and returned)."""
    import torch.distributed as td

    if dist.enabled and dist.world > 1:
        td.all_reduce(values, op=td.ReduceOp.SUM)
    return values


def any_flag(flag: bool, dist: Dist, device: torch.device) -> bool:
    """True on every process when any process raised ``flag``."""
    import torch

    if not (dist.enabled and dist.world > 1):
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    return bool(all_sum(t, dist).item() > 0)


def barrier(dist: Dist) -> None:
    import torch.distributed as td

    if dist.enabled and td.is_initialized():
        td.barrier()


def wrap(model: torch.nn.Module, dist: Dist, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` when there are several processes."""
    if not (dist.enabled and dist.world > 1):
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def sync_buffers(model: torch.nn.Module, dist: Dist) -> None:
    """Give every process rank 0's buffers (BatchNorm's running statistics) before evaluating."""
    import torch.distributed as td

    if dist.enabled and dist.world > 1:
        for buffer in model.buffers():
            td.broadcast(buffer, src=0)

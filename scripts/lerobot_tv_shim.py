"""Installed into .venv-lerobot (as ``embodex_lerobot_tv_shim`` with a ``.pth`` that imports
it at start-up) by scripts/lerobot_venv.sh, so LeRobot imports there for every script a user
runs, not only for our tests.

PyPI's torchvision is a CUDA build whose C++ ops cannot load beside the CPU torch; its Python
side then fails on import while registering fake kernels for ops that do not exist. Declaring
the two op schemas first lets the pure-Python transforms LeRobot uses import. The declaration
waits for the first ``import torchvision``, so nothing else in the venv pays for importing
torch at start-up.
"""

from __future__ import annotations

import importlib.abc
import sys
from typing import Any

_KEEP: list[Any] = []  # the torch library object must stay alive


def _declare_ops() -> None:
    import torch

    try:
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    except RuntimeError:  # already declared by the process itself
        return
    _KEEP.append(lib)


class _BeforeTorchvision(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torchvision":
            sys.meta_path.remove(self)
            _declare_ops()
        return None  # the normal finders import it


sys.meta_path.insert(0, _BeforeTorchvision())

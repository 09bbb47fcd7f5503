"""The pinhole camera that both the heads and the scenes are drawn through."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Camera:
    """A pinhole camera ``mount`` metres up, tilted down by ``tilt`` radians."""

    width: int
    height: int
    focal: float  # pixels
    mount: float
    tilt: float

    @classmethod
    def looking(
        cls, width: int, height: int, fov_deg: float, mount: float, tilt_deg: float
    ) -> Camera:
        focal = width / 2 / math.tan(math.radians(fov_deg) / 2)
        return cls(width, height, focal, mount, math.radians(tilt_deg))

    @property
    def eye(self) -> F32:
        return np.array([0.0, self.mount, 0.0], np.float32)

    def _axes(self) -> F32:
        """Rows: the camera's x (right), y (down the image) and z (forward) in the world."""
        c, s = math.cos(self.tilt), math.sin(self.tilt)
        return np.array([[1.0, 0.0, 0.0], [0.0, -c, -s], [0.0, -s, c]], np.float32)

    def project(self, points: F32) -> tuple[F32, F32, F32]:
        """Image x, y (pixels) and depth (metres along the axis) of world points ``(n, 3)``."""
        local: F32 = ((points - self.eye) @ self._axes().T).astype(np.float32, copy=False)
        depth = local[:, 2]
        safe = np.maximum(depth, np.float32(1e-3))
        scale = (self.focal / safe).astype(np.float32)
        x: F32 = local[:, 0] * scale + np.float32(self.width / 2)
        y: F32 = local[:, 1] * scale + np.float32(self.height / 2)
        return x, y, depth

    def head_to_camera(self, turn: F32, centre: F32) -> tuple[F32, F32]:
        """Matrix and offset that take points of a head turned by ``turn`` (head to
        world) at world ``centre`` to the camera's frame (x right, y down the image,
        z forward)."""
        axes = self._axes()
        return (axes @ turn).astype(np.float32), (axes @ (centre - self.eye)).astype(np.float32)

    def rays(self) -> F32:
        """World direction (unnormalised) through each pixel centre, ``(h, w, 3)``."""
        xs = (np.arange(self.width, dtype=np.float32) + 0.5 - self.width / 2) / self.focal
        ys = (np.arange(self.height, dtype=np.float32) + 0.5 - self.height / 2) / self.focal
        grid_x, grid_y = np.meshgrid(xs, ys)
        axes = self._axes()
        return grid_x[..., None] * axes[0] + grid_y[..., None] * axes[1] + axes[2]

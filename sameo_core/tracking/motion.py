"""The motion model of a track: a Kalman filter on the amodal box (filterpy's `KalmanFilter`).

State x = [cx, cy, w, h, vx, vy]: the centre and size of the amodal box in pixels and the
centre's velocity in pixels per second (SORT's layout less its area rate: an object's amodal
size does not change when it is occluded, so size is a random walk held by the measurements).
Measurement z = [cx, cy, w, h] of the amodal mask's box.

- "constant_velocity": cx' = cx + vx·dt (the same for y), with white-noise acceleration of
  spectral density `acceleration_noise`² (px/s²)² on the centre (the discrete model of
  Bar-Shalom's "continuous white noise acceleration").
- "static": vx = vy = 0 always (no velocity noise; a moved object is followed through its
  measurements only).

Measurement noise is `position_noise` px for a fully visible object; the amodal box of an
occluded one is SAMEO's completion of the hidden part, so its noise grows as its visible share
falls: σ = position_noise / max(visible fraction, 0.05)². A track that is hidden gets no update;
its box keeps moving with its velocity (the carried amodal mask follows the box's centre).
"""

from __future__ import annotations

import numpy as np
from filterpy.kalman import KalmanFilter

from .tracker_config import MotionModel

_INITIAL_SPEED_SIGMA = 60.0  # px/s: a new track's velocity is unknown (a slow object's scale)
_SIZE_NOISE = 2.0  # px/√s: random walk of the box size


class BoxMotion:
    """One track's Kalman filter on its amodal box."""

    def __init__(self, box_xyxy: np.ndarray, model: MotionModel, position_noise: float,
                 acceleration_noise: float) -> None:
        self.model = model
        self.position_noise = position_noise
        self.acceleration_noise = acceleration_noise if model == "constant_velocity" else 0.0
        kf = KalmanFilter(dim_x=6, dim_z=4)
        kf.x = np.zeros((6, 1))
        kf.x[:4, 0] = _cxcywh(box_xyxy)
        kf.H = np.eye(4, 6)
        speed = _INITIAL_SPEED_SIGMA if model == "constant_velocity" else 0.0
        kf.P = np.diag([position_noise**2] * 4 + [speed**2] * 2)
        self.kf = kf
        self._F = np.eye(6)
        self._Q = np.zeros((6, 6))

    def predict(self, dt: float) -> None:
        """Advance the state by dt ≥ 0 seconds (dt = 0 leaves it as it is)."""
        if dt <= 0:
            return
        F, Q = self._F, self._Q
        Q[:] = 0.0
        if self.model == "constant_velocity":
            F[0, 4] = F[1, 5] = dt
            q = self.acceleration_noise**2
            # white-noise acceleration on (c, v) per axis: q·[[dt³/3, dt²/2], [dt²/2, dt]]
            for c, v in ((0, 4), (1, 5)):
                Q[c, c], Q[v, v] = q * dt**3 / 3, q * dt
                Q[c, v] = Q[v, c] = q * dt**2 / 2
        Q[2, 2] = Q[3, 3] = _SIZE_NOISE**2 * dt
        self.kf.predict(F=F, Q=Q)

    def update(self, box_xyxy: np.ndarray, visible_fraction: float | None) -> None:
        """Correct the state with a measured amodal box."""
        share = 1.0 if visible_fraction is None or not np.isfinite(visible_fraction) else (
            max(float(visible_fraction), 0.05))
        sigma = self.position_noise / min(share, 1.0) ** 2
        self.kf.update(_cxcywh(box_xyxy)[:, None], R=np.eye(4) * sigma**2)

    @property
    def centre(self) -> tuple[float, float]:
        return float(self.kf.x[0, 0]), float(self.kf.x[1, 0])

    @property
    def velocity(self) -> tuple[float, float]:
        return float(self.kf.x[4, 0]), float(self.kf.x[5, 0])

    def box(self) -> np.ndarray:
        """The filter's amodal box, xyxy float64 [4]."""
        cx, cy, w, h = self.kf.x[:4, 0]
        w, h = max(w, 1.0), max(h, 1.0)
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _cxcywh(box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = (float(v) for v in box)
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0])


__all__ = ["BoxMotion"]

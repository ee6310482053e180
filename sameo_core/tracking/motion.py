"""The motion model of a track: a Kalman filter on the amodal box.

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

How it is computed. This is the filter of filterpy's `KalmanFilter` (dim_x=6, dim_z=4, H = the
first four rows of the identity, R = σ²·I, initial P = diag(position_noise² × 4, speed² × 2);
`predict(F, Q)`, then `update(z, R)` with its Joseph-form covariance), which the tests keep as the
reference (test/tracking/test_motion.py: the same states and covariances to 1e-9 over random
sequences of both models). It is not called here because of its cost: one `KalmanFilter` object
per track, numpy calls on 6 x 6 matrices and a 4 x 4 inverse per update, were the largest part
of the tracker's time per frame (BENCHMARKS.md, "Object permanence", "Cost per frame"). Every
matrix of this model keeps the state in four independent blocks — (cx, vx), (cy, vy), w, h: F,
Q, H and R couple nothing across them and P starts diagonal, so the cross-block covariances
stay exactly 0 — so each step is the same formulas on a 2 x 2 block per axis and a scalar per
size, a few float operations in plain Python.
"""

from __future__ import annotations

import math

import numpy as np

from .tracker_config import MotionModel

_INITIAL_SPEED_SIGMA = 60.0  # px/s: a new track's velocity is unknown (a slow object's scale)
_SIZE_NOISE = 2.0  # px/√s: random walk of the box size


class _Axis:
    """One centre axis: position c, velocity v and their covariance [[pcc, pcv], [pcv, pvv]]."""

    __slots__ = ("c", "v", "pcc", "pcv", "pvv")

    def __init__(self, c: float, pcc: float, pvv: float) -> None:
        self.c, self.v, self.pcc, self.pcv, self.pvv = c, 0.0, pcc, 0.0, pvv

    def predict(self, dt: float, q: float) -> None:
        """x' = F x, P' = F P Fᵀ + Q with F = [[1, dt], [0, 1]] and Q = q·[[dt³/3, dt²/2],
        [dt²/2, dt]] (both models: static has v = pcv = pvv = 0 and q = 0; its F is the
        identity, the same on these values)."""
        pcc, pcv, pvv = self.pcc, self.pcv, self.pvv
        self.c += self.v * dt
        self.pcc = pcc + dt * pcv + dt * (pcv + dt * pvv) + q * dt**3 / 3
        self.pcv = pcv + dt * pvv + q * dt**2 / 2
        self.pvv = pvv + q * dt

    def update(self, z: float, r: float) -> None:
        """Measure c = z with variance r: gain K = P Hᵀ S⁻¹, S = pcc + r; Joseph form
        P' = (I - K H) P (I - K H)ᵀ + K r Kᵀ (filterpy's)."""
        pcc, pcv, pvv = self.pcc, self.pcv, self.pvv
        si = 1.0 / (pcc + r)
        kc, kv = pcc * si, pcv * si
        y = z - self.c
        self.c += kc * y
        self.v += kv * y
        a = 1.0 - kc
        self.pcc = a * pcc * a + kc * r * kc
        self.pcv = -(a * pcc * kv) + a * pcv + kc * r * kv
        self.pvv = (pcv - kv * pcc) * -kv + (pvv - kv * pcv) + kv * r * kv


class _Size:
    """One size (w or h): a random walk s with variance p."""

    __slots__ = ("s", "p")

    def __init__(self, s: float, p: float) -> None:
        self.s, self.p = s, p

    def predict(self, dt: float) -> None:
        self.p = self.p + _SIZE_NOISE**2 * dt

    def update(self, z: float, r: float) -> None:
        p = self.p
        k = p * (1.0 / (p + r))
        self.s += k * (z - self.s)
        a = 1.0 - k
        self.p = a * p * a + k * r * k


class BoxMotion:
    """One track's Kalman filter on its amodal box (module docstring)."""

    __slots__ = ("model", "position_noise", "acceleration_noise", "_x", "_y", "_w", "_h")

    def __init__(self, box_xyxy: np.ndarray, model: MotionModel, position_noise: float,
                 acceleration_noise: float) -> None:
        self.model = model
        self.position_noise = position_noise
        self.acceleration_noise = acceleration_noise if model == "constant_velocity" else 0.0
        cx, cy, w, h = _cxcywh(box_xyxy)
        speed = _INITIAL_SPEED_SIGMA if model == "constant_velocity" else 0.0
        p0 = position_noise**2
        self._x, self._y = _Axis(cx, p0, speed**2), _Axis(cy, p0, speed**2)
        self._w, self._h = _Size(w, p0), _Size(h, p0)

    def predict(self, dt: float) -> None:
        """Advance the state by dt ≥ 0 seconds (dt = 0 leaves it as it is)."""
        if dt <= 0:
            return
        if self.model == "constant_velocity":
            q = self.acceleration_noise**2
            self._x.predict(dt, q)
            self._y.predict(dt, q)
        self._w.predict(dt)
        self._h.predict(dt)

    def update(self, box_xyxy: np.ndarray, visible_fraction: float | None) -> None:
        """Correct the state with a measured amodal box."""
        share = 1.0 if visible_fraction is None or not math.isfinite(visible_fraction) else (
            max(float(visible_fraction), 0.05))
        sigma = self.position_noise / min(share, 1.0) ** 2
        r = sigma**2
        cx, cy, w, h = _cxcywh(box_xyxy)
        self._x.update(cx, r)
        self._y.update(cy, r)
        self._w.update(w, r)
        self._h.update(h, r)

    @property
    def centre(self) -> tuple[float, float]:
        return self._x.c, self._y.c

    @property
    def velocity(self) -> tuple[float, float]:
        return self._x.v, self._y.v

    @property
    def state(self) -> np.ndarray:
        """x = [cx, cy, w, h, vx, vy], float64 [6]."""
        return np.array([self._x.c, self._y.c, self._w.s, self._h.s, self._x.v, self._y.v])

    @property
    def covariance(self) -> np.ndarray:
        """P, float64 [6, 6] (in the order of `state`)."""
        P = np.zeros((6, 6))
        for c, v, axis in ((0, 4, self._x), (1, 5, self._y)):
            P[c, c], P[v, v] = axis.pcc, axis.pvv
            P[c, v] = P[v, c] = axis.pcv
        P[2, 2], P[3, 3] = self._w.p, self._h.p
        return P

    def box(self) -> np.ndarray:
        """The filter's amodal box, xyxy float64 [4]."""
        cx, cy = self._x.c, self._y.c
        w, h = max(self._w.s, 1.0), max(self._h.s, 1.0)
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _cxcywh(box: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box.tolist() if isinstance(box, np.ndarray) else (float(v) for v in box)
    return (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0


__all__ = ["BoxMotion"]

"""The motion model (sameo_core/tracking/motion.py) against filterpy's `KalmanFilter`, the
reference it computes per block (its module docstring says why it does not call filterpy), and
its behaviour: constant velocity, static, occluded measurements trusted less."""

from __future__ import annotations

import numpy as np
import pytest
from filterpy.kalman import KalmanFilter

from sameo_core.tracking.motion import _INITIAL_SPEED_SIGMA, _SIZE_NOISE, BoxMotion


class FilterpyMotion:
    """The same model on one filterpy `KalmanFilter` (the tracker's motion model before it was
    computed per block): F, Q, H, R and the initial P as motion.py's docstring gives them."""

    def __init__(self, box, model, position_noise, acceleration_noise):
        self.model, self.position_noise = model, position_noise
        self.q = acceleration_noise**2 if model == "constant_velocity" else 0.0
        kf = KalmanFilter(dim_x=6, dim_z=4)
        x0, y0, x1, y1 = (float(v) for v in box)
        kf.x = np.array([[(x0 + x1) / 2], [(y0 + y1) / 2], [x1 - x0], [y1 - y0], [0.0], [0.0]])
        kf.H = np.eye(4, 6)
        speed = _INITIAL_SPEED_SIGMA if model == "constant_velocity" else 0.0
        kf.P = np.diag([position_noise**2] * 4 + [speed**2] * 2)
        self.kf = kf

    def predict(self, dt):
        if dt <= 0:
            return
        F, Q = np.eye(6), np.zeros((6, 6))
        if self.model == "constant_velocity":
            F[0, 4] = F[1, 5] = dt
            for c, v in ((0, 4), (1, 5)):
                Q[c, c], Q[v, v] = self.q * dt**3 / 3, self.q * dt
                Q[c, v] = Q[v, c] = self.q * dt**2 / 2
        Q[2, 2] = Q[3, 3] = _SIZE_NOISE**2 * dt
        self.kf.predict(F=F, Q=Q)

    def update(self, box, visible_fraction):
        share = 1.0 if visible_fraction is None or not np.isfinite(visible_fraction) else (
            max(float(visible_fraction), 0.05))
        sigma = self.position_noise / min(share, 1.0) ** 2
        x0, y0, x1, y1 = (float(v) for v in box)
        z = np.array([[(x0 + x1) / 2], [(y0 + y1) / 2], [x1 - x0], [y1 - y0]])
        self.kf.update(z, R=np.eye(4) * sigma**2)


@pytest.mark.parametrize("model", ["constant_velocity", "static"])
@pytest.mark.parametrize("seed", range(4))
def test_per_block_filter_equals_filterpy(model, seed):
    """Random boxes, time steps (0 included) and visible shares (None, NaN, tiny included):
    the same state and covariance as filterpy's KalmanFilter at every step."""
    rng = np.random.default_rng(seed)
    box = np.array([100.0, 80, 160, 120]) + rng.normal(0, 20, 4).clip(-19, 19)
    noise, accel = float(rng.uniform(0.5, 4)), float(rng.uniform(0, 40))
    ours, reference = BoxMotion(box, model, noise, accel), FilterpyMotion(box, model, noise, accel)
    for _ in range(300):
        if rng.random() < 0.4:
            dt = float(rng.choice([0.0, 1 / 30, 1 / 15, rng.uniform(0, 1)]))
            ours.predict(dt)
            reference.predict(dt)
        else:
            measured = (box + rng.normal(0, 5, 4) + rng.normal(0, 30) * np.array([1, 0, 1, 0]))
            measured = measured.astype(np.float32)  # as the predictor gives boxes
            share = rng.choice([None, float("nan"), 0.0, 0.01, rng.uniform(0, 1), 1.0, 1.5])
            ours.update(measured, share)
            reference.update(measured, share)
        np.testing.assert_allclose(ours.state, reference.kf.x[:, 0], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(ours.covariance, reference.kf.P, rtol=1e-9, atol=1e-9)
    x = reference.kf.x[:, 0]
    assert ours.centre == pytest.approx((x[0], x[1]), rel=1e-12)
    assert ours.velocity == pytest.approx((x[4], x[5]), rel=1e-12, abs=1e-12)
    w, h = max(x[2], 1.0), max(x[3], 1.0)
    np.testing.assert_allclose(ours.box(), [x[0] - w / 2, x[1] - h / 2, x[0] + w / 2,
                                            x[1] + h / 2], rtol=1e-12)


def test_constant_velocity_and_static_motion():
    cv = BoxMotion(np.array([10.0, 10, 30, 30]), "constant_velocity", 1.0, 5.0)
    for t in range(1, 31):
        cv.predict(1 / 30)
        cv.update(np.array([10.0 + t, 10, 30.0 + t, 30]), 1.0)
    assert cv.velocity[0] == pytest.approx(30.0, abs=3.0)
    for _ in range(30):
        cv.predict(1 / 30)
    assert cv.centre[0] == pytest.approx(20 + 30 + 30, abs=4.0)
    static = BoxMotion(np.array([10.0, 10, 30, 30]), "static", 1.0, 5.0)
    static.update(np.array([14.0, 10, 34, 30]), 1.0)
    for _ in range(30):
        static.predict(1 / 30)
    assert static.velocity == (0.0, 0.0) and 20 < static.centre[0] < 24


def test_measurements_of_occluded_objects_move_the_box_less():
    moved = {}
    for share in (1.0, 0.3):
        motion = BoxMotion(np.array([10.0, 10, 30, 30]), "static", 1.0, 5.0)
        for _ in range(10):
            motion.update(np.array([10.0, 10, 30, 30]), 1.0)
        motion.update(np.array([20.0, 10, 40, 30]), share)
        moved[share] = motion.centre[0] - 20
    assert moved[0.3] < 0.2 * moved[1.0]

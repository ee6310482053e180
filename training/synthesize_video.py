"""Write procedural videos with amodal ground truth (held-out sets for object permanence).

    python -m training.synthesize_video --out DIR --num-videos N --seed S
        [--frames 240] [--fps 30] [--image-size 128] [--sweeps 2] [--hide-seconds 0.3 3.0]

Video i is `sameo_core.data.video_scenes.generate_video(video_seed(S, i), config)`: static and
moving objects, occluders sweeping across that fully hide objects for `--hide-seconds`, objects
passing behind each other and leaving the frame. Output: DIR/frames/video_NNNNN/*.png and
DIR/annotations.json in the "sameo-video/1" schema (`sameo_core/data/video_dataset.py`), read
back by `read_video_set` (and, frame by frame, by `amodal_coco:DIR/annotations.json`). The same
settings give the same bytes. Evaluate with `python -m training.evaluate_tracking --gt DIR/...`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sameo_core.data.video_dataset import generator_settings, write_video_set
from sameo_core.data.video_scenes import VideoConfig, generate_video, video_seed
from sameo_core.tools import cli

MAX_VIDEOS = 10_000


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--num-videos", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--frames", type=int, default=VideoConfig.num_frames)
    p.add_argument("--fps", type=float, default=VideoConfig.fps)
    p.add_argument("--image-size", type=int, default=VideoConfig.image_size)
    p.add_argument("--sweeps", type=int, default=VideoConfig.sweeps)
    p.add_argument("--hide-seconds", type=float, nargs=2, default=VideoConfig.hide_seconds,
                   metavar=("LO", "HI"))
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    if not 1 <= args.num_videos <= MAX_VIDEOS:
        raise ValueError(f"--num-videos must be in [1, {MAX_VIDEOS}], got {args.num_videos}")
    if args.seed < 0:
        raise ValueError(f"--seed must be ≥ 0, got {args.seed}")
    config = VideoConfig(image_size=args.image_size, num_frames=args.frames, fps=args.fps,
                         sweeps=args.sweeps, hide_seconds=tuple(args.hide_seconds))
    videos = (generate_video(video_seed(args.seed, i), config) for i in range(args.num_videos))
    path = write_video_set(args.out, videos,
                           generator_settings(config, args.seed, args.num_videos))
    print(f"wrote {args.num_videos} videos of {args.frames} frames: {path}")
    return 0


if __name__ == "__main__":
    cli.run(main)

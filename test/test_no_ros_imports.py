"""sameo_core must stay usable without ROS: no module of it may import a ROS package."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROS_MODULES = {
    "rclpy", "rosidl_runtime_py", "sensor_msgs", "std_msgs", "vision_msgs", "geometry_msgs",
    "builtin_interfaces", "cv_bridge", "message_filters", "launch", "launch_ros", "sameo_ros",
}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_sameo_core_imports_no_ros_module():
    files = sorted((ROOT / "sameo_core").rglob("*.py"))
    assert files, "sameo_core has no Python files"
    offenders = {
        str(f.relative_to(ROOT)): sorted(_imported_roots(f) & ROS_MODULES) for f in files
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"ROS imports inside sameo_core: {offenders}"

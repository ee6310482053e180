"""Start sameo_node as a separate process in the colcon-built workspace, DDS kept on this machine.

Used by the tests, the demo and the benchmarks. ROS-free itself: it computes the environment that
`source <install>/setup.bash` gives, starts the installed `lib/sameo_ros/sameo_node` (what
`ros2 run sameo_ros sameo_node` runs) and finds the `ros2` command for `ros2 launch`/`ros2 run`.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import pkgutil
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from sameo_core.files import atomic_write_bytes

REPO = Path(__file__).resolve().parents[2]
DEFAULT_INSTALL = REPO / ".ros_ws" / "install"

# Fast DDS: shared memory plus UDP on the loopback interface only (discovery included).
# The 32 MB shared-memory segment (default 512 kB) keeps camera images and mask arrays off UDP.
_FASTDDS_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>loopback_udp</transport_id>
        <type>UDPv4</type>
        <interfaceWhiteList><address>127.0.0.1</address></interfaceWhiteList>
      </transport_descriptor>
      <transport_descriptor>
        <transport_id>shm</transport_id>
        <type>SHM</type>
        <segment_size>33554432</segment_size>
      </transport_descriptor>
    </transport_descriptors>
    <participant profile_name="sameo_loopback" is_default_profile="true">
      <rtps>
        <userTransports>
          <transport_id>shm</transport_id>
          <transport_id>loopback_udp</transport_id>
        </userTransports>
        <useBuiltinTransports>false</useBuiltinTransports>
      </rtps>
    </participant>
  </profiles>
</dds>
"""


def workspace_env(
    install: Path = DEFAULT_INSTALL, base: dict[str, str] | None = None
) -> dict[str, str]:
    """`base` (default os.environ) plus what `source <install>/setup.bash` sets."""
    setup = Path(install) / "setup.bash"
    if not setup.is_file():
        raise FileNotFoundError(f"{setup} missing: build the workspace first (make ros)")
    out = subprocess.run(
        ["bash", "-c", f'source "{setup}" >/dev/null && env -0'],
        env=dict(os.environ if base is None else base),
        check=True,
        capture_output=True,
    ).stdout
    pairs = (item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return dict(pairs)


def _write_profile() -> Path:
    """The Fast DDS profile as a file (one per user, replaced atomically when it differs)."""
    profile = Path(tempfile.gettempdir()) / f"sameo_fastdds_loopback_{os.getuid()}.xml"
    if not profile.is_file() or profile.read_text() != _FASTDDS_PROFILE:
        atomic_write_bytes(profile, _FASTDDS_PROFILE.encode(), durable=False)
    return profile


def isolated_dds_env(env: dict[str, str], domain_id: int | None = None) -> dict[str, str]:
    """`env` with a random (or given) ROS_DOMAIN_ID and DDS traffic restricted to this machine
    (and ROS logs in .ros_ws/log/ros instead of ~/.ros/log)."""
    profile = _write_profile()
    env = dict(env)
    env.pop("ROS_LOCALHOST_ONLY", None)  # deprecated in Jazzy; the discovery range replaces it
    env.update(
        {
            "ROS_DOMAIN_ID": str(random.randint(1, 100) if domain_id is None else domain_id),
            # SUBNET, not LOCALHOST: with LOCALHOST, rmw_fastrtps opens sockets on every interface
            # again; the profile's loopback-only transports already keep discovery on this machine.
            "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET",
            "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp",
            "FASTRTPS_DEFAULT_PROFILES_FILE": str(profile),
            "FASTDDS_DEFAULT_PROFILES_FILE": str(profile),
            "PYTHONUNBUFFERED": "1",
            "ROS_LOG_DIR": env.get("ROS_LOG_DIR", str(REPO / ".ros_ws" / "log" / "ros")),
        }
    )
    return env


def node_command(
    install: Path = DEFAULT_INSTALL,
    params_file: Path | None = None,
    parameters: dict[str, object] | None = None,
    remaps: dict[str, str] | None = None,
) -> list[str]:
    """The command line `ros2 run sameo_ros sameo_node --ros-args ...` would run."""
    command = [str(Path(install) / "sameo_ros" / "lib" / "sameo_ros" / "sameo_node"), "--ros-args"]
    if params_file is not None:
        command += ["--params-file", str(params_file)]
    for name, value in (parameters or {}).items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        command += ["-p", f"{name}:={text}"]
    for old, new in (remaps or {}).items():
        command += ["-r", f"{old}:={new}"]
    return command


@functools.cache
def _isolated_workspace(install: Path) -> tuple[tuple[str, str], ...]:
    env = isolated_dds_env(workspace_env(install))
    activate_in_process(env)
    return tuple(env.items())


def activate_isolated_workspace(install: Path = DEFAULT_INSTALL) -> dict[str, str]:
    """Workspace environment with isolated DDS, also made active in this process (returned).

    Once per process: later calls return the same environment (the same ROS domain), so that
    every part of a test session talks on one domain.
    """
    return dict(_isolated_workspace(Path(install)))


def ros2_executable() -> str:
    """The `ros2` command: .venv's (make ros installs the launch system there without a ROS 2
    installation), else the one on PATH."""
    beside = Path(sys.executable).parent / "ros2"
    found = str(beside) if beside.is_file() else shutil.which("ros2")
    if found is None:
        raise FileNotFoundError("no ros2 command: run `make ros` (or source a ROS 2 installation)")
    return found


def launch_env(env: dict[str, str]) -> dict[str, str]:
    """`env` for `ros2 launch`/`ros2 run`: the launch packages' own share/ on the ament index
    (launch's frontend grammar is looked up there) and no colour codes."""
    prefix = str(Path(sys.executable).parents[1])
    ament = env.get("AMENT_PREFIX_PATH", "")
    return dict(
        env,
        AMENT_PREFIX_PATH=f"{ament}{os.pathsep}{prefix}" if ament else prefix,
        RCUTILS_COLORIZED_OUTPUT="0",
    )


def start_configured_node(
    env: dict[str, str],
    log_path: Path,
    parameters: dict[str, object],
    install: Path = DEFAULT_INSTALL,
    namespace: str = "",
) -> subprocess.Popen:
    """sameo_node with config/sameo.yaml plus `parameters` overriding it, in `namespace`."""
    remaps = {"__ns": namespace} if namespace else None
    return start_node(
        env,
        log_path,
        install=install,
        params_file=REPO / "config" / "sameo.yaml",
        parameters=parameters,
        remaps=remaps,
    )


def start_node(env: dict[str, str], log_path: Path, **command_args: object) -> subprocess.Popen:
    """Start sameo_node (see node_command) with stdout and stderr going to `log_path`."""
    return start_logged(node_command(**command_args), env, log_path)


def _in_own_group_with_default_signals() -> None:
    # A process started from a non-interactive shell may inherit SIGINT ignored, and `ros2
    # launch` keeps it so: the child gets the default dispositions, as from a terminal.
    os.setpgid(0, 0)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    # If this process dies without stopping the child (killed test run), the child gets SIGTERM
    # instead of running on (Linux prctl PR_SET_PDEATHSIG = 1).
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def start_logged(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start `command` in its own process group, stdout and stderr going to `log_path`."""
    with open(log_path, "wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tempfile.gettempdir(),
            preexec_fn=_in_own_group_with_default_signals,
        )


def stop_node(
    process: subprocess.Popen, timeout: float = 30.0, sig: int = signal.SIGINT, group: bool = False
) -> int:
    """`sig` (SIGINT: a clean shutdown) to the process, or to its whole process group (what a
    terminal's Ctrl-C does; `ros2 run` waits for that), then SIGKILL to the group if it hangs;
    returns the exit code."""
    if process.poll() is None:
        if group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def activate_in_process(env: dict[str, str]) -> None:
    """Make this (already running) interpreter use the workspace of `env` (see workspace_env).

    Updates os.environ and sys.path, and preloads the workspace's shared libraries: the dynamic
    loader read LD_LIBRARY_PATH at process start, and rosidl later dlopens typesupport libraries by
    name, which resolves to an already loaded library of that name. For test processes and tools
    started without `source install/setup.bash`; the node itself runs with the full environment.
    """
    os.environ.update(env)
    for entry in reversed(env.get("PYTHONPATH", "").split(os.pathsep)):
        if entry and entry not in sys.path:
            sys.path.insert(0, entry)
    directories = [Path(d) for d in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if d]
    built = [d for d in directories if (d.parent / "share" / "colcon-core").is_dir()]
    _preload([lib for d in built for lib in sorted(d.glob("lib*.so"))])
    package = sys.modules.get("sameo_ros")  # imported from a source checkout before this call
    if package is not None:
        package.__path__ = pkgutil.extend_path(package.__path__, "sameo_ros")


def _preload(libraries: list[Path]) -> None:
    """dlopen all `libraries` globally; retry those whose dependencies come later in the list."""
    while libraries:
        failed = []
        for library in libraries:
            try:
                ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                failed.append(library)
        if len(failed) == len(libraries):
            raise OSError(f"cannot load {[str(f) for f in failed]}")
        libraries = failed

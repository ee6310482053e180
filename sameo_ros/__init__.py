"""sameo_ros: the ROS 2 shell around sameo_core (node, conversions, pairing, replay).

Kept trivial on purpose: colcon installs the generated `sameo_ros.msg` next to these modules
without this file. `extend_path` lets a source checkout on sys.path still find that generated part.
"""

__path__ = __import__("pkgutil").extend_path(__path__, __name__)

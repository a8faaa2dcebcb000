"""Video devices as the kernel lists them (``/sys/class/video4linux``), without opening any,
and whether this user may open the camera's device nodes.

Used to tell a Pi whose camera stack is missing from a machine without a Pi camera, and to
find USB webcams: on a Pi 5 the low ``/dev/video*`` numbers belong to the camera receiver
(``rp1-cfe``) and the ISP (``pispbe``), not to a webcam.  libcamera opens ``/dev/media*``,
``/dev/video*`` (and the sensor's ``/dev/v4l-subdev*``) and allocates from
``/dev/dma_heap/*``; a user who may not (not in the ``video`` group) sees no camera at all,
which would otherwise read like a loose cable.
"""
from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SYSFS_V4L = Path("/sys/class/video4linux")
DEV = Path("/dev")
CAMERA_NODES = ("media*", "video*", "v4l-subdev*", "dma_heap/*")
VIDEO_GROUP = "video"
CSI_RECEIVERS = ("rp1-cfe", "unicam")   # Pi 5, Pi 4 and older: present when a camera is configured
USB_DRIVER = "uvcvideo"


@dataclass(frozen=True)
class VideoDevice:
    node: str        # /dev/video0
    name: str        # what the driver calls it
    driver: str      # rp1-cfe, pispbe, uvcvideo, ...
    index: int       # 0 for a device's main node (a webcam has a second one for metadata)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def video_devices(root: Path | None = None) -> list[VideoDevice]:
    root = SYSFS_V4L if root is None else root
    found = []
    try:
        entries = sorted(root.iterdir(), key=lambda p: (len(p.name), p.name))
    except OSError:
        return []
    for entry in entries:
        try:
            driver = (entry / "device" / "driver").resolve().name if (entry / "device" / "driver").exists() else ""
        except OSError:
            driver = ""
        index = _read(entry / "index")
        found.append(VideoDevice(f"/dev/{entry.name}", _read(entry / "name"), driver,
                                 int(index) if index.isdigit() else 0))
    return found


def pi_camera_devices(root: Path | None = None) -> list[str]:
    """Nodes of a Pi camera receiver (the kernel has a camera configured), e.g. ['/dev/video0 (rp1-cfe)']."""
    return [f"{d.node} ({d.driver or d.name})" for d in video_devices(root)
            if any(r in d.driver or d.name.startswith(r) for r in CSI_RECEIVERS)][:4]


def usb_webcams(root: Path | None = None) -> list[str]:
    """Capture nodes of USB (UVC) webcams, e.g. ['/dev/video8']: the value for camera.v4l2_devices."""
    return [d.node for d in video_devices(root) if d.driver == USB_DRIVER and d.index == 0]


def _read_write(path: Path) -> bool:
    return os.access(path, os.R_OK | os.W_OK)


def camera_nodes(dev: Path | None = None) -> list[Path]:
    """The device nodes libcamera opens, e.g. [/dev/media0, /dev/video0, /dev/dma_heap/linux,cma]."""
    dev = DEV if dev is None else dev
    return [p for pattern in CAMERA_NODES for p in sorted(dev.glob(pattern))]


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def in_video_group(groups: list[int] | None = None) -> bool | None:
    """Is this process in the ``video`` group?  None when the system has no such group."""
    try:
        gid = grp.getgrnam(VIDEO_GROUP).gr_gid
    except KeyError:
        return None
    return os.geteuid() == 0 or gid in (os.getgroups() if groups is None else groups) or gid == os.getegid()


def access_problem(dev: Path | None = None, can_use: Callable[[Path], bool] | None = None,
                   member: bool | None = None) -> str:
    """'' when every camera device node can be read and written, else what stops it, in words."""
    can_use = _read_write if can_use is None else can_use
    denied = [str(p) for p in camera_nodes(dev) if not can_use(p)]
    if not denied:
        return ""
    shown = ", ".join(denied[:4]) + (f" and {len(denied) - 4} more" if len(denied) > 4 else "")
    user = _user()
    member = in_video_group() if member is None else member
    why = (f"{user} is not in the '{VIDEO_GROUP}' group: sudo usermod -aG {VIDEO_GROUP} {user}, then log in again"
           if member is False else f"check their permissions (ls -l {denied[0]})")
    return f"permission denied: {user} cannot open {shown}; {why}"

"""Video devices as the kernel lists them (``/sys/class/video4linux``), without opening any.

Used to tell a Pi whose camera stack is missing from a machine without a Pi camera, and to
find USB webcams: on a Pi 5 the low ``/dev/video*`` numbers belong to the camera receiver
(``rp1-cfe``) and the ISP (``pispbe``), not to a webcam.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SYSFS_V4L = Path("/sys/class/video4linux")
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

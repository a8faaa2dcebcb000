"""Deleting one segment file: only ours, only under the recordings root.

A segment ``cam{N}/YYMMDD/<name>`` is deleted by walking from the root's folder down, each
folder opened without following a symbolic link (``O_NOFOLLOW``), and unlinked by name in its
day folder: a camera or day folder that is a symbolic link (to another disk, say) is never
deleted through, and nothing outside ``recorder.root`` can be reached, whatever is swapped in
meanwhile.  The root itself may be a link: it is the owner's choice of where recordings go.

What cannot be deleted is remembered by its scope, and the archive index's queries leave it
out (:class:`~common.archive.index.Skip`), so one unwritable folder never stops retention:

* a camera or day folder that is a symbolic link, or in which we may not delete (a folder a
  ``sudo`` run created, a read-only file system): the whole folder;
* a file that refuses alone (immutable, not a regular file): that file, and its whole folder
  once ``FOLDER_AFTER`` of its files refused alike.

Each cause is logged once, however many files it keeps (the status counts them).  A folder
left out is tried again at the next pass once its owner or mode is not what it was (its
permissions were fixed, the ``sudo`` run gave it back); everything left out is forgotten after
``FORGET_S`` too (an ACL, a file's own flags or a remount change no folder's mode).
"""
from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from pathlib import Path

from common.archive import segment_name
from common.archive.index import Skip

log = logging.getLogger("recorder")

FILES_MAX = 1000        # single files remembered as undeletable
FOLDERS_MAX = 1000      # folders remembered (years of day folders)
FOLDER_AFTER = 3        # files of one folder refusing alike: the folder is left out
FORGET_S = 3600.0       # then everything is tried again
SAID_MAX = 64           # causes remembered as logged
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Errors of the folder, not of one file: unlinking needs write permission on the folder.
_FOLDER_ERRORS = (errno.EACCES, errno.EROFS)


_Looks = tuple[int, int, int]   # a folder's mode, owner and group (not its change time: a new file changes that)


def _looks(path: Path) -> _Looks | None:
    """What says a folder's permissions changed (None: it is gone)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_mode, st.st_uid, st.st_gid


class Refused(Exception):
    """``scope`` (a folder or a file, relative to the root) cannot be deleted from, for ``why``."""

    def __init__(self, scope: str, why: str, folder: bool) -> None:
        super().__init__(why)
        self.scope, self.why, self.folder = scope, why, folder


class Remover:
    def __init__(self, root: Path, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.root = Path(root)
        self._mono = monotonic
        self._folders: OrderedDict[str, str] = OrderedDict()   # cam{N} or cam{N}/YYMMDD -> why
        self._as_left: dict[str, _Looks | None] = {}            # each of those folders as it was when left out
        self._files: OrderedDict[str, str] = OrderedDict()     # file -> why
        self._strikes: Counter[tuple[str, str]] = Counter()    # (folder, why) -> files refused
        self._said: OrderedDict[str, None] = OrderedDict()
        self._since = monotonic()

    # -- what is left out ----------------------------------------------------------------------
    def skip(self) -> Skip:
        """What retention's queries must leave out now."""
        self._forget_due()
        cameras = {segment_name.camera_of_folder(f) for f in self._folders if "/" not in f}
        return Skip(frozenset(c for c in cameras if c is not None),
                    frozenset(f for f in self._folders if "/" in f), frozenset(self._files))

    def _forget_due(self) -> None:
        """Everything left out is tried again ``FORGET_S`` after the first of it was."""
        if self._mono() - self._since >= FORGET_S and (self._folders or self._files):
            log.info("retention: trying again %d folder(s) and %d file(s) that could not be deleted",
                     len(self._folders), len(self._files))
            self._folders.clear()
            self._as_left.clear()
            self._files.clear()
            self._strikes.clear()

    def recheck(self) -> None:
        """Forget the folders left out that changed since (given back, their mode fixed): a
        stat each, at the start of a pass that may delete."""
        for folder in [f for f in self._folders if _looks(self.root / f) != self._as_left.get(f)]:
            del self._folders[folder]
            self._as_left.pop(folder, None)
            log.info("retention: %s changed since it could not be deleted from; it is tried again", folder)

    def folders(self) -> list[str]:
        """The folders left out (``cam{N}`` or ``cam{N}/YYMMDD``)."""
        return list(self._folders)

    @property
    def files(self) -> int:
        """Single files left out."""
        return len(self._files)

    def check_camera_folders(self, cameras: list[int]) -> None:
        """Leave out at once the camera folders that are symbolic links (not ours to delete from).
        What is due to be tried again is forgotten first: a link forgotten after this check would
        count as ours (its segments in what is kept, its rows candidates) until the next pass."""
        self._forget_due()
        for camera in cameras:
            folder = segment_name.camera_folder(camera)
            try:
                linked = stat.S_ISLNK(os.lstat(self.root / folder).st_mode)
            except OSError:
                continue
            if linked and folder not in self._folders:
                self._refused(Refused(folder, "is a symbolic link (not ours: nothing is deleted through it)", True))

    # -- deleting ------------------------------------------------------------------------------
    def remove(self, file: str) -> bool | None:
        """Delete the segment ``file`` (relative to the root): True when deleted, False when
        already gone, None when it may not or cannot be deleted (logged once per cause)."""
        try:
            return self._remove(file)
        except Refused as why:
            self._refused(why)
            return None

    def _remove(self, file: str) -> bool:
        parsed = segment_name.parse_rel_path(file)
        if isinstance(parsed, str):
            raise Refused(file, f"is not a segment's path ({parsed})", False)
        camera, day, name = file.split("/")
        opened: list[int] = []
        try:
            root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            opened.append(root_fd)
            cam_fd = self._folder(camera, root_fd, camera)
            if cam_fd is None:
                return False
            opened.append(cam_fd)
            day_fd = self._folder(day, cam_fd, f"{camera}/{day}")
            if day_fd is None:
                return False
            opened.append(day_fd)
            try:
                st = os.stat(name, dir_fd=day_fd, follow_symlinks=False)
            except FileNotFoundError:
                return False
            if not stat.S_ISREG(st.st_mode):
                kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
                raise Refused(file, f"is {kind} (not ours)", False)
            try:
                os.unlink(name, dir_fd=day_fd)
            except FileNotFoundError:
                return False
            except OSError as exc:
                why = exc.strerror or str(exc)
                if exc.errno in _FOLDER_ERRORS:
                    raise Refused(f"{camera}/{day}", f"cannot be deleted from ({why})", True) from None
                raise Refused(file, f"cannot be deleted ({why})", False) from None
            try:
                os.rmdir(day, dir_fd=cam_fd)   # the day's folder, once empty
            except OSError:
                pass
            return True
        except FileNotFoundError:
            return False   # the root itself went away: nothing to delete
        finally:
            for fd in reversed(opened):
                os.close(fd)

    @staticmethod
    def _folder(name: str, parent_fd: int, rel: str) -> int | None:
        """The folder ``name`` in ``parent_fd``, never through a symbolic link; None when gone."""
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            try:
                linked = stat.S_ISLNK(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode)
            except OSError:
                linked = False
            if linked:
                raise Refused(rel, "is a symbolic link (not ours: nothing is deleted through it)", True) from None
            raise Refused(rel, f"cannot be opened ({exc.strerror or exc})", True) from None

    def _refused(self, r: Refused) -> None:
        if r.folder:
            self._leave_folder(r.scope, r.why)
        else:
            folder = r.scope.rsplit("/", 1)[0]
            if len(self._strikes) >= FOLDERS_MAX:
                self._strikes.clear()   # (bounded: counting starts again)
            self._strikes[(folder, r.why)] += 1
            if self._strikes[(folder, r.why)] >= FOLDER_AFTER:
                self._leave_folder(folder, f"holds files that refuse alike: {r.why}")
                for f in [f for f in self._files if f.startswith(folder + "/")]:
                    del self._files[f]
            else:
                self._files[r.scope] = r.why
                while len(self._files) > FILES_MAX:
                    self._files.popitem(last=False)
        what = "the folder is" if r.folder else "it is, and so is every file that refuses alike,"
        self._say(f"retention: {r.scope} {r.why}; {what} left alone (counted in the status)", key=r.why)

    def _leave_folder(self, folder: str, why: str) -> None:
        if not self._folders and not self._files:
            self._since = self._mono()
        self._folders[folder] = why
        self._as_left[folder] = _looks(self.root / folder)
        while len(self._folders) > FOLDERS_MAX:
            dropped, _ = self._folders.popitem(last=False)
            self._as_left.pop(dropped, None)

    def _say(self, message: str, key: str) -> None:
        """Log once per cause (``key``), not once per file or per pass."""
        if key in self._said:
            return
        self._said[key] = None
        while len(self._said) > SAID_MAX:
            self._said.popitem(last=False)
        log.error("%s", message)

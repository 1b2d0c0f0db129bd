"""Run one writer in a forked child process while the parent goes on with other work.

GDAL's GeoPackage writer holds Python's GIL for the whole write: a Python
thread beside ``pyogrio.write_arrow`` ran 4 % of its usual loop iterations
while a city's cells layer (750,880 polygons, 2.5 s) was written, so a
thread cannot overlap it with anything. A forked child can: it starts with
the parent's memory (copy on write, nothing serialised), writes, and exits;
the parent meanwhile writes its other outputs and then waits.

Only for one-shot processes (the command line). A server forks with other
threads that may hold GDAL's or the allocator's locks at that instant, so
there ``enabled=False`` (``write_outputs``' default) runs the writer in the
calling thread, as does any platform but Linux, or a fork that fails. The
child's exception, if any, comes back through a pipe and is raised again in
the parent with its class and attributes, the child's traceback attached as
a note.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["ForkedCall", "can_fork", "forked"]


def can_fork() -> bool:
    """Whether writers run in a forked child here: Linux only.

    macOS forks, but its system libraries (Accelerate, Objective-C runtime)
    are not safe to use in a child of a threaded process; Windows has no fork.
    """
    return sys.platform.startswith("linux") and hasattr(os, "fork")


class ForkedCall:
    """A call running in a forked child; a context manager that waits for it on exit.

    Leaving the block by an exception (Ctrl-C included) stops the child
    first, so no child writes on after its parent gave up the file.
    """

    def __init__(self, pid: int | None, read_fd: int | None) -> None:
        self._pid = pid
        self._read_fd = read_fd

    def __enter__(self) -> ForkedCall:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None:
            self.stop()
            return
        try:
            self.wait()
        except BaseException:  # Ctrl-C while waiting: the child goes too
            self.stop()
            raise

    def wait(self) -> None:
        """Wait for the child; raise its exception if it failed.

        Raises
        ------
        Exception
            The child's own exception (same type where it pickles), or
            ``RuntimeError`` if the child died without saying why (a signal,
            the kernel's out-of-memory killer).
        """
        if self._pid is None:
            return
        payload = _read_all(self._read_fd)
        self._read_fd = None
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if payload:
            raise _rebuilt(payload)
        if os.WIFSIGNALED(status):
            raise RuntimeError(f"the background writer was stopped by signal {os.WTERMSIG(status)}")
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"the background writer exited with status {os.waitstatus_to_exitcode(status)}")

    def stop(self) -> None:
        """Kill the child (if still running) and reap it."""
        if self._pid is None:
            return
        try:
            os.kill(self._pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self._pid, 0)
        self._pid = None
        if self._read_fd is not None:
            os.close(self._read_fd)
            self._read_fd = None


def forked(fn: Callable[..., Any], *args: Any, enabled: bool = True) -> ForkedCall:
    """Start ``fn(*args)`` in a forked child; use the result as a context manager.

    Parameters
    ----------
    fn : callable
        Runs in the child; its return value is dropped. It must not need
        threads of the parent (they do not exist in the child).
    *args
        Passed to ``fn`` (shared with the child copy on write, not pickled).
    enabled : bool, default True
        ``False``, or a platform without fork, runs ``fn`` here and now, so
        callers write the same code either way.

    Returns
    -------
    ForkedCall
        ``with forked(...):`` waits for the child at the end of the block
        and raises its error there.
    """
    if not (enabled and can_fork()):
        fn(*args)
        return ForkedCall(None, None)
    sys.stdout.flush()  # nothing buffered in the parent is written twice
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no memory or no process slot for a copy of a big process: write here instead
        os.close(read_fd)
        os.close(write_fd)
        fn(*args)
        return ForkedCall(None, None)
    if pid == 0:  # pragma: no cover - the child; measured through the parent
        os.close(read_fd)
        _run_child(fn, args, write_fd)
    os.close(write_fd)
    return ForkedCall(pid, read_fd)


def _run_child(fn: Callable[..., Any], args: tuple[Any, ...], write_fd: int) -> None:  # pragma: no cover - child
    # The parent's sys.stdout/sys.stderr may be a progress display's wrappers, whose locks its
    # refresh thread (not copied into the child) may have held at the fork: write to the plain
    # descriptors instead, so a warning printed here cannot wait for ever.
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - lives until os._exit
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    code = 0
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        code = 1
        _write_all(write_fd, _described(exc))
    finally:
        # No atexit handlers, no flushing of the parent's buffers: the child only wrote its file.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _described(exc: BaseException) -> bytes:  # pragma: no cover - child
    """The exception as (class, args, attributes, traceback text), pickled; its message alone if that fails.

    Not ``pickle.dumps(exc)``: exceptions whose constructor takes other
    arguments than ``args`` (keyword-only fields) do not unpickle that way.
    """
    text = traceback.format_exc()
    try:
        return pickle.dumps((type(exc), exc.args, dict(vars(exc)), text))
    except Exception:  # noqa: BLE001 - a local class, an attribute that does not pickle
        return pickle.dumps((RuntimeError, (f"{type(exc).__name__}: {exc}",), {}, text))


def _rebuilt(payload: bytes) -> BaseException:
    """The child's exception again, same class and attributes, its traceback attached as a note."""
    kind, args, attributes, text = pickle.loads(payload)
    exc = kind.__new__(kind, *args)
    exc.args = args
    exc.__dict__.update(attributes)
    exc.add_note(f"in the background writer process:\n{text.rstrip()}")
    return exc


def _write_all(fd: int, data: bytes) -> None:  # pragma: no cover - child
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_all(fd: int | None) -> bytes:
    if fd is None:
        return b""
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)

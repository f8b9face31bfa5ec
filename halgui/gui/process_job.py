"""Run a core progress generator in a child process, behind the same generator interface.

:func:`in_subprocess` turns ``target(*args, cancel=flag)`` (a module-level function that
returns a progress generator) into a job for :class:`halgui.gui.worker.Worker`: the worker
thread pulls a generator that starts a ``spawn`` process, relays the child's progress events
from a queue, returns the child's return value and raises what the child raised: a
:class:`Cancelled`; a :class:`ProcessJobError` with the message of a HalguiError; or, for a
bug, a :class:`~halgui.core.error_report.RemoteBug` with the original type's name, message and
traceback (sent as plain data: the exception itself may not pickle). Cancelling
the job (the worker's flag, or closing the generator) sets an event the child turns into its
own cancel flag; the generator then waits for the child to stop cleanly (its ``finally``
blocks run there) before it returns, and kills it only if it does not stop in time.

Why a process: a round in a QThread shares the GIL with the GUI thread. Measured on the demo
(CPU, 2 cores), importing torch, building the training set and clustering held it for up to
275 ms at a time (target: no event-loop stall over 50 ms). In a child process the GUI thread
only waits on a queue. The child also runs at a lower priority (``nice``), so the labeler's
clicks win over training for the CPU.

This module does not import Qt: the child imports it (and the target's module) alone.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue as queue_mod
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from halgui.core.error_report import RemoteBug, format_traceback
from halgui.core.errors import Cancelled, HalguiError
from halgui.core.progress import CancelFlag, Progress, Throttle

__all__ = ["ProcessJobError", "in_subprocess"]

Job = Generator[Progress, Any, Any]
Target = Callable[..., Job]

_POLL_S = 0.05          # how often the parent looks at its cancel flag while waiting
_STOP_GRACE_S = 30.0    # how long a cancelled child may take to stop before it is killed


class ProcessJobError(HalguiError):
    """A job's process stopped unexpectedly, or raised a HalguiError (whose message this is)."""


def in_subprocess(target: Target, *args: Any, nice: int = 0
                  ) -> Callable[[CancelFlag], Job]:  # fmt: skip
    """A job (``fn(cancel_flag) -> generator``) that runs ``target(*args, cancel=flag)`` in a
    new ``spawn`` process; ``nice`` lowers the child's priority where the OS allows it.
    ``target`` and ``args`` must pickle (a module-level function, plain data)."""

    def job(cancel: CancelFlag) -> Job:
        return _relay(target, args, nice, cancel)

    return job


def _relay(target: Target, args: tuple[Any, ...], nice: int, cancel: CancelFlag | None
           ) -> Job:  # fmt: skip
    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    # "stop" is a message on a pipe, not an Event: a child that exits while it waits on an
    # Event's condition leaves the parent's Event.set() blocked for ever
    stop_reader, stop_writer = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_main, args=(target, args, nice, messages, stop_reader),
                        name=f"halgui-{getattr(target, '__name__', 'job')}", daemon=True)
    child.start()
    stop_reader.close()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            with contextlib.suppress(OSError, ValueError):  # the child is already gone
                stop_writer.send(True)

    try:
        while True:
            if cancel is not None and cancel.cancelled:
                stop()
            try:
                message = messages.get(timeout=_POLL_S)
            except queue_mod.Empty:
                if child.is_alive():
                    continue
                try:  # it may have said its last word just before it exited
                    message = messages.get(timeout=1.0)
                except queue_mod.Empty:
                    raise ProcessJobError(
                        f"the background process stopped unexpectedly (exit code "
                        f"{child.exitcode})") from None
            kind = message[0]
            if kind == "progress":
                yield message[1]
            elif kind == "done":
                return message[1]
            elif kind == "cancelled":
                raise Cancelled("cancelled")
            else:
                raise _rebuilt(*message[1:])
    finally:
        stop()
        _wait(child, messages, _STOP_GRACE_S)
        stop_writer.close()
        messages.close()
        messages.cancel_join_thread()


def _wait(child: mp.process.BaseProcess, messages: Any, timeout: float) -> None:
    """Wait for the child to exit, reading (and dropping) what it still sends so that it is
    never blocked on a full pipe; kill it if it does not exit in ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while child.is_alive() and time.monotonic() < deadline:
        try:
            messages.get(timeout=_POLL_S)
        except queue_mod.Empty:
            pass
        except (EOFError, OSError, ValueError):
            time.sleep(_POLL_S)
    if child.is_alive():
        child.kill()
    child.join(5.0)


def _rebuilt(user_error: bool, type_name: str, text: str, traceback: str) -> Exception:
    """The child's exception, from what :func:`_failure` sent."""
    if user_error:
        return ProcessJobError(text)
    return RemoteBug(type_name, text, traceback)


# ---------------------------------------------------------------------- in the child
def _child_main(target: Target, args: tuple[Any, ...], nice: int, messages: Any,
                stop: Any) -> None:
    if nice and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(nice)
    flag = CancelFlag()
    threading.Thread(target=_watch, args=(stop, flag), name="halgui-stop-watch",
                     daemon=True).start()
    try:
        work = target(*args, cancel=flag)
        throttle = Throttle()
        while True:
            try:
                event = next(work)
            except StopIteration as end:
                for held in throttle.flush():
                    messages.put(("progress", held))
                messages.put(("done", end.value))
                return
            if throttle.passes(event):
                messages.put(("progress", event))
    except Cancelled:
        messages.put(("cancelled",))
    except Exception as exc:  # the parent raises it again, and logs a bug's traceback
        messages.put(_failure(exc))
    finally:
        messages.close()
        messages.join_thread()


def _failure(exc: BaseException) -> tuple[str, bool, str, str, str]:
    """What the parent needs to raise ``exc`` again: plain data, which always pickles."""
    return ("failed", isinstance(exc, HalguiError), type(exc).__name__, str(exc),
            format_traceback(exc))


def _watch(stop: Any, flag: CancelFlag) -> None:
    """Set the job's cancel flag when the parent asks, or when the parent is gone (its end
    of the pipe closes)."""
    with contextlib.suppress(EOFError, OSError):
        stop.recv()
    flag.cancel()

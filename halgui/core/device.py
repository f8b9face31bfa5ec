"""The device a round would train on, named for people, found without importing torch.

The window shows it in the status bar and the About dialog; importing torch for that would cost
the app seconds at start-up (torch is imported only in the round's own process).
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["detect_device"]


def detect_device() -> str:
    """The GPU training would use, or "CPU", without importing torch: an NVIDIA driver lists
    its GPUs under /proc; when torch is already loaded (a round ran), it is asked instead."""
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                return f"GPU: {torch.cuda.get_device_name(0)}"
            if torch.backends.mps.is_available():
                return "GPU: Apple MPS"
        except Exception:  # a broken driver: training would fall back to the CPU too
            return "CPU"
        return "CPU"
    for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        try:
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    return f"GPU: {line.split(':', 1)[1].strip()}"
        except OSError:
            continue
    return "CPU"

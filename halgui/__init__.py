"""halgui: label videos for spatio-temporal action detection, with hybrid active learning."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("halgui")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

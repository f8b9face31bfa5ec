"""The Qt-free core of halgui: project store, video access, annotations, learning.

Nothing under this package imports Qt; an import-linter contract enforces it, so everything here
runs headless, in scripts, workers and tests.
"""

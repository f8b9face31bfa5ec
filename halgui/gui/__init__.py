"""The PySide6 desktop application: views over core objects."""

"""Small dialogs of the main window: each asks for one thing and returns plain values.

Dialogs only ask (``ask`` / ``exec``); the main window does the work with core objects. That keeps
every dialog testable on its own and the main window free of form code.
"""

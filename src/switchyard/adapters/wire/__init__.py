"""Provider wire formats: one module each, behind the ``WireAdapter`` protocol (``base.py``).

Built-ins register through the same entry-point group a third-party package would use
(``switchyard.wire_formats`` in ``pyproject.toml``); ``registry.py`` loads them lazily by name.
"""

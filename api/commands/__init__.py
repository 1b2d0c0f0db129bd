"""Sub-command groups of the ``lifecircle`` CLI, each with ``register(app)``."""

"""Command handlers: ``handler(ctx) -> exit code``, one module per command group."""

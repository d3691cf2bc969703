"""Built-in persistence backends (memory, rotating files, Redis Streams)."""

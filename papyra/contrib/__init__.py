"""Optional integrations (OpenTelemetry, Prometheus). Nothing here is imported by ``papyra``."""

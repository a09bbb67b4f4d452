"""Operations telemetry at a low layer: Prometheus metrics and structured logs."""

"""Operations: the metrics and health endpoints, structured logging."""

"""Operations: the meter, metrics, quotas and alerts (and backups, maintenance, doctor) of a PRISM server."""

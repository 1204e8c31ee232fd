"""Operations around PRISM: the meter, metrics, quotas and alerts of a server; backups, verification
and restore, maintenance and doctor of a home."""

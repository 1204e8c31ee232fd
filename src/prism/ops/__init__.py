"""Operations around a PRISM home: backups, verification and restore, maintenance, doctor."""

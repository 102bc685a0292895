"""optax twins and optimizer-table rows (filled in as the rules are written)."""

ROWS: tuple = ()

"""(filled in as the rules are written)."""

__all__: list[str] = []

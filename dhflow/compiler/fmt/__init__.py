"""`dhflow fmt`: the canonical layout of .dhflow files (pure: no database, no Balsam)."""
from dhflow.compiler.fmt.layout import format_text, is_formatted

__all__ = ["format_text", "is_formatted"]

"""The install config: merged in curtin's order, validated, redacted."""

from .merge import apply_set, builtin_config, merge_config, merge_configs

__all__ = ["apply_set", "builtin_config", "merge_config", "merge_configs"]

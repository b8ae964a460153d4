"""cloud-init finds config modules by name at the top of sys.path: a shim."""

from cloudinit_maaslike.ccmodules import meta_for, stage_handler

meta = meta_for("maaslike_extract", "Run the install's extract stage")
handle = stage_handler("extract")
__all__ = ["handle", "meta"]

"""cloud-init finds config modules by name at the top of sys.path: a shim."""

from cloudinit_maaslike.ccmodules import meta_for, stage_handler

meta = meta_for("maaslike_hook", "Run the install's hook stage")
handle = stage_handler("hook")
__all__ = ["handle", "meta"]

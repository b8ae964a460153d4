"""cloud-init finds config modules by name at the top of sys.path: a shim."""

from cloudinit_maaslike.ccmodules import meta_for, stage_handler

meta = meta_for("maaslike_late", "Run the install's late stage")
handle = stage_handler("late")
__all__ = ["handle", "meta"]

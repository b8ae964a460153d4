"""cloud-init finds config modules by name at the top of sys.path: a shim."""

from cloudinit_maaslike.ccmodules import meta_for, stage_handler

meta = meta_for("maaslike_curthooks", "Run the install's curthooks stage")
handle = stage_handler("curthooks")
__all__ = ["handle", "meta"]

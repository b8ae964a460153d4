"""cloud-init finds config modules by name at the top of sys.path: a shim."""

from cloudinit_maaslike.ccmodules import meta_for, stage_handler

meta = meta_for("maaslike_network", "Run the install's network stage")
handle = stage_handler("network")
__all__ = ["handle", "meta"]

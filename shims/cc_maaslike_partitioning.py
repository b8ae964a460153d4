"""cloud-init finds config modules by name at the top of sys.path: a shim."""

from cloudinit_maaslike.ccmodules import meta_for, stage_handler

meta = meta_for("maaslike_partitioning", "Run the install's partitioning stage")
handle = stage_handler("partitioning")
__all__ = ["handle", "meta"]

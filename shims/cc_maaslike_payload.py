"""cloud-init finds config modules by name at the top of sys.path: a shim."""

from cloudinit_maaslike.ccmodules import handle_payload as handle
from cloudinit_maaslike.ccmodules import meta_for

meta = meta_for("maaslike_payload", "Decode a MAAS install payload without executing it")
__all__ = ["handle", "meta"]

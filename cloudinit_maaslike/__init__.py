"""cloudinit-maaslike: a MAAS-style datasource and installer for cloud-init.

Importing the package must stay cheap: cloud-init imports the datasource
shim on every boot, so nothing here pulls in more than the version string.
"""

__version__ = "0.1.0"

"""A stand-in for MAAS's metadata service: for labs, demos and tests.

Core only (plus aiohttp and tempita, the `server` extra): nothing here
imports cloud-init or the install engine; the payload packer is core.
"""

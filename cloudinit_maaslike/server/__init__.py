"""A stand-in for MAAS's metadata service: for labs, demos and tests.

Core only (plus aiohttp, the `server` extra): nothing here imports cloud-init
or the install engine.
"""

"""The metadata client: crawl a MAAS-style metadata service or a local seed."""

from .crawl import crawl
from .model import CrawlStats, Metadata
from .seed import read_seed, write_seed
from .vendordata import decode_vendordata

__all__ = ["crawl", "CrawlStats", "Metadata", "read_seed", "write_seed", "decode_vendordata"]

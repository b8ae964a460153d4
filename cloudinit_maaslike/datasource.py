"""cloud-init adapter: the MAASLike datasource.

A thin layer over the core: settings come from `dsconfig`, data from
`metadata`.  What this class adds is only what cloud-init needs to see:
the `metadata` dict, raw user-data and vendor-data, a sub-platform string, a
credential identity for `check_instance_id` (so a reboot with the same
credentials reuses the cache with no network), and the keys to redact from
instance-data.  Every failure is one warning line naming the URL or key, and
never a secret (our client never logs a request header).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional

from cloudinit import sources

from .clockskew import ServerClock, default_skew_file
from .dsconfig import DSNAME, SourceConfig, source_config
from .errors import MaaslikeError
from .metadata import Metadata, crawl, decode_vendordata, read_seed

LOG = logging.getLogger(__name__)

_EXTRA_SENSITIVE = (
    "merged_cfg",
    "security-credentials",
    "userdata",
    "user-data",
    "user_data",
    "vendordata",
    "vendor-data",
    "ds/vendor_data",
)


class DataSourceMAASLike(sources.DataSource):  # type: ignore[misc]  # cloud-init is untyped here
    dsname = DSNAME

    # The install payload in user-data carries OAuth tokens; keep it and the
    # merged config (which holds the datasource credentials) out of the
    # world-readable instance-data.json.
    sensitive_metadata_keys = tuple(
        dict.fromkeys(tuple(sources.DataSource.sensitive_metadata_keys) + _EXTRA_SENSITIVE)
    )

    def __init__(self, sys_cfg: Any, distro: Any, paths: Any, ud_proc: Any = None) -> None:
        super().__init__(sys_cfg, distro, paths, ud_proc)
        self._credentials_identity: Optional[str] = None
        self._origin = ""

    def _unpickle(self, ci_pkl_version: int) -> None:
        super()._unpickle(ci_pkl_version)
        for name, default in (("_credentials_identity", None), ("_origin", "")):
            if not hasattr(self, name):
                setattr(self, name, default)

    def _settings(self, sys_cfg: Any) -> Optional[SourceConfig]:
        try:
            return source_config(sys_cfg or {})
        except MaaslikeError as exc:
            LOG.warning("%s: bad configuration: %s", DSNAME, exc)
            return None

    def _seed_dir(self, settings: SourceConfig) -> str:
        return settings.seed_dir or os.path.join(self.paths.seed_dir, "maas")

    def ds_detect(self) -> bool:
        """Ours when a metadata URL is configured or a seed is present."""
        settings = self._settings(self.sys_cfg)
        if settings is None:
            return False
        return bool(settings.metadata_url) or os.path.isdir(self._seed_dir(settings))

    def _get_data(self) -> bool:
        settings = self._settings(self.sys_cfg)
        if settings is None:
            return False
        seed_dir = self._seed_dir(settings)
        try:
            md = read_seed(seed_dir)
            if md is not None:
                self._origin = f"seed-dir ({seed_dir})"
            elif not settings.metadata_url:
                LOG.debug("%s: no metadata_url and no seed in %s", DSNAME, seed_dir)
                return False
            else:
                clock = ServerClock(settings.skew_file or default_skew_file())
                md, _ = crawl(
                    settings.metadata_url,
                    settings.credentials,
                    timeout=settings.timeout,
                    max_wait=settings.max_wait,
                    retries=settings.retries,
                    clock=clock,
                    request_deadline=settings.request_deadline,
                    max_item_size=settings.max_item_size,
                )
                self._origin = f"metadata ({settings.metadata_url})"
        except MaaslikeError as exc:
            LOG.warning("%s: %s", DSNAME, exc)
            return False
        self._apply(md)
        self._credentials_identity = (
            settings.credentials.identity() if settings.credentials else None
        )
        return True

    def _apply(self, md: Metadata) -> None:
        self.metadata = md.as_cloudinit_metadata()
        self.userdata_raw = md.userdata_raw
        try:
            self.vendordata_raw = decode_vendordata(md.vendordata_raw, f"{md.source} vendor-data")
        except MaaslikeError as exc:
            LOG.warning("%s: ignoring vendor-data: %s", DSNAME, exc)
            self.vendordata_raw = None

    def _get_subplatform(self) -> str:
        return self._origin or "unknown"

    def check_instance_id(self, sys_cfg: Any) -> bool:
        """Same credentials as when we crawled: the cached instance is still ours."""
        if self._credentials_identity is None:
            return False
        settings = self._settings(sys_cfg)
        if settings is None or settings.credentials is None:
            return False
        return settings.credentials.identity() == self._credentials_identity


datasources = [
    (DataSourceMAASLike, (sources.DEP_FILESYSTEM, sources.DEP_NETWORK)),
]


def get_datasource_list(depends: Any) -> Any:
    return sources.list_from_depends(depends, datasources)

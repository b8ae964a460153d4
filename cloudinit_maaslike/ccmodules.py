"""cloud-init adapter: the config modules that run an install from user-data.

``maaslike_payload`` finds MAAS's curtin payload in the datasource's raw
user-data, removes its shell script from the instance's scripts directory
(so ``scripts_user`` never executes it), decodes it without running anything,
validates the whole config and prepares the working directory.  Then one
module per stage (``maaslike_early`` … ``maaslike_late``) drives the same
install through the engine, which keeps its progress on disk: each module
runs the stages not yet done up to its own, nothing runs after a failure, and
the failing module raises so cloud-init reports it.  User-data that is not a
payload is left entirely to cloud-init.

Modules are once-per-instance, take ``handle(*args, **kwargs)`` (22.4.2 calls
positionally, 23.2+ with keywords) and carry a ``meta`` both releases accept
(no ``schema`` attribute: that would abort the whole stage).  This module
never imports cloud-init: the ``cloud`` object is used by duck typing.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import MaaslikeError
from .privatefile import make_private_dir, write_private

LOG = logging.getLogger(__name__)

PER_INSTANCE = "once-per-instance"
STAGE_MODULES = ("early", "partitioning", "network", "extract", "curthooks", "hook", "late")
POINTER = "install.json"


def meta_for(name: str, title: str) -> Dict[str, Any]:
    return {
        "id": f"cc_{name}",
        "name": title,
        "title": title,
        "description": title,
        "distros": ["all"],
        "frequency": PER_INSTANCE,
        "examples": [],
        "activate_by_schema_keys": [],
    }


def handle_arguments(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Tuple[str, Dict[str, Any], Any]:
    """(name, cfg, cloud) from either calling convention."""
    if "cloud" in kwargs:
        return kwargs.get("name", ""), kwargs.get("cfg") or {}, kwargs["cloud"]
    name, cfg, cloud = args[0], args[1], args[2]
    return name, cfg or {}, cloud


def state_dir(cloud: Any) -> str:
    return os.path.join(cloud.paths.run_dir, "maaslike")


def _pointer_path(cloud: Any) -> str:
    return os.path.join(state_dir(cloud), POINTER)


def _load_pointer(cloud: Any) -> Optional[Dict[str, Any]]:
    path = _pointer_path(cloud)
    try:
        with open(path, encoding="utf-8") as handle:
            pointer: Dict[str, Any] = json.load(handle)
    except FileNotFoundError:
        return None
    iid = cloud.datasource.get_instance_id()
    if pointer.get("instance_id") != iid:
        LOG.info("install state in %s belongs to instance %s, not %s; ignoring it",
                 path, pointer.get("instance_id"), iid)
        return None
    return pointer


def remove_payload_scripts(scripts_dir: str, is_payload: Callable[[bytes], bool]) -> List[str]:
    """Delete the user-data scripts that are install payloads; keep all others."""
    removed: List[str] = []
    try:
        names = sorted(os.listdir(scripts_dir))
    except FileNotFoundError:
        return removed
    for name in names:
        path = os.path.join(scripts_dir, name)
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as handle:
            if not is_payload(handle.read()):
                continue
        os.unlink(path)
        removed.append(path)
    return removed


def _raw_userdata(cloud: Any) -> bytes:
    raw = cloud.datasource.get_userdata_raw()
    if raw is None:
        return b""
    return raw if isinstance(raw, bytes) else str(raw).encode("utf-8")


class PayloadRefused(MaaslikeError):
    """Fail closed: the payload's script is already gone, nothing ran, MAAS was told."""


def report_payload_failure(cfg: Dict[str, Any], merged: Optional[Dict[str, Any]], exc: BaseException) -> str:
    """A payload that cannot be decoded or validated is a failed install MAAS must hear of."""
    from .install.engine import describe_unexpected
    from .install.failreport import report_failure_before_install

    reason = str(exc) if isinstance(exc, MaaslikeError) else describe_unexpected(exc)
    message = f"install payload refused, nothing was run: {reason}"
    LOG.error("maaslike: %s", message)
    try:
        report_failure_before_install(message, cfg, merged, log=LOG)
    except Exception as failure:  # noqa: BLE001 - the payload's own error is what cloud-init must show
        LOG.warning("maaslike: the failure could not be reported: %s", failure)
    return message


def handle_payload(*args: Any, **kwargs: Any) -> None:
    _, cfg, cloud = handle_arguments(args, kwargs)
    from .payload import decode, looks_like_payload, merged_config, write_members

    raw = _raw_userdata(cloud)
    if not raw or not looks_like_payload(raw):
        LOG.info("maaslike: user-data is not an install payload; leaving it to cloud-init")
        return
    for path in remove_payload_scripts(cloud.paths.get_ipath_cur("scripts"), looks_like_payload):
        LOG.info("maaslike: removed %s so cloud-init does not execute the payload", path)

    from .install.prepare import checked_config, prepare

    merged: Optional[Dict[str, Any]] = None
    try:
        payload = decode(raw)
        merged = merged_config(payload)
        config = checked_config(merged, where="install payload")
    except Exception as exc:  # noqa: BLE001 - fail closed: nothing runs, MAAS hears why
        raise PayloadRefused(report_payload_failure(cfg, merged, exc)) from None
    settings = cfg.get("maaslike_install") or {}
    base = settings.get("workdir") or os.path.join(state_dir(cloud), "work")
    config, work = prepare(config, target=settings.get("target"), base=base)
    python_paths: List[str] = []
    if payload.members:
        write_members(payload, work.payload)
        python_paths.append(work.payload)
    make_private_dir(state_dir(cloud))
    write_private(_pointer_path(cloud), json.dumps({
        "instance_id": cloud.datasource.get_instance_id(),
        "workdir": work.top,
        "target": work.target,
        "python_paths": python_paths,
        "configs": [name for name, _ in payload.configs],
        "sources": list(payload.sources),
    }, indent=1))
    LOG.info("maaslike: install payload decoded (%d configs, source %s); working directory %s",
             len(payload.configs), ", ".join(payload.sources) or "none", work.top)


def run_stage(stage: Optional[str], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
    """Run the install up to `stage` (everything left when None)."""
    _, _, cloud = handle_arguments(args, kwargs)
    pointer = _load_pointer(cloud)
    if pointer is None:
        LOG.debug("maaslike: no install for this instance; nothing to do for %s", stage or "the rest")
        return
    from .install.engine import Installer
    from .install.prepare import checked_config
    from .install.workdir import WorkDir

    work = WorkDir(pointer["workdir"], pointer["target"])
    with open(work.config_file, encoding="utf-8") as handle:
        config = checked_config(json.load(handle), where="install payload")
    Installer(config, work, python_paths=pointer.get("python_paths", ())).run(until=stage)


def stage_handler(stage: str) -> Callable[..., None]:
    last = stage == STAGE_MODULES[-1]

    def handle(*args: Any, **kwargs: Any) -> None:
        run_stage(None if last else stage, args, kwargs)

    handle.__doc__ = f"Run the install's {stage} stage (and any pending before it)."
    return handle

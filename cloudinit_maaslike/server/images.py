"""Image files served under ``/images/`` so a node can stream its root image
from the same server (MAAS's rack serves ``/images/<sha>/<os>/…`` the same way).

aiohttp's `FileResponse` does the transfer: ``sendfile(2)``, ``Range`` and
``If-Modified-Since``, so throughput is the kernel's, not Python's.  What is
decided here is which file a path may reach: only regular files inside the
images directory, after every symlink and ``..`` is resolved.
"""

from __future__ import annotations

import os
from typing import Optional

from aiohttp import web

IMAGES_ROUTE = "/images/"
CHUNK_SIZE = 1024 * 1024  # used only where sendfile is not available


def resolve_image(root: str, relative: str) -> Optional[str]:
    """The real path of the file `relative` names under `root`, or None.

    None for anything outside `root` (``..``, an absolute path, a symlink
    that leads out), for hidden names, and for anything but a regular file.
    """
    if "\0" in relative:
        return None
    parts = [p for p in relative.split("/") if p]
    if not parts or any(p.startswith(".") for p in parts):
        return None
    base = os.path.realpath(root)
    path = os.path.realpath(os.path.join(base, *parts))
    if os.path.commonpath([base, path]) != base or not os.path.isfile(path):
        return None
    return path


def add_image_routes(app: web.Application, root: str) -> None:
    async def image(request: web.Request) -> web.StreamResponse:
        path = resolve_image(root, request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound(text=f"No image at {request.path}")
        return web.FileResponse(path, chunk_size=CHUNK_SIZE,
                                headers={"Content-Type": "application/octet-stream"})

    app.router.add_get(IMAGES_ROUTE + "{path:.+}", image)

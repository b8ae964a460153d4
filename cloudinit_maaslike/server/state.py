"""Everything one running server knows, built from the inventory and state dir."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from ..privatefile import make_private_dir
from .api import MetadataAPI
from .credstore import CredentialStore
from .diskwriter import Immediate, Writer
from .documents import NodeDocuments
from .eventfiles import DEFAULT_EVENT_ATTACHMENTS, DEFAULT_NODE_ATTACHMENTS, AttachmentLimits
from .inventory import Node
from .records import NodeRecord
from .templates import DEFAULT_TEMPLATES_DIR, TemplateLoader

DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024
DEFAULT_HEADER_TIMEOUT = 20.0
DEFAULT_IDLE_TIMEOUT = 60.0
DEFAULT_BODY_TIMEOUT = 300.0


@dataclass(frozen=True)
class ServerOptions:
    state_dir: str
    host: str = "127.0.0.1"
    port: int = 5248
    server_url: Optional[str] = None  # default: what the client addressed
    latency: float = 0.0  # added to every request, for benchmarks and tests
    clock_offset: float = 0.0  # the server's clock minus the host's, for skew tests
    images_dir: Optional[str] = None
    templates_dir: Optional[str] = None  # searched before the shipped templates
    shipped_templates_dir: str = DEFAULT_TEMPLATES_DIR
    # What one client may cost (``maaslike serve --max-*`` and ``--*-timeout``; README.rst).
    max_body_size: int = DEFAULT_MAX_BODY_SIZE  # bytes of one request body, as sent
    max_event_attachments: int = DEFAULT_EVENT_ATTACHMENTS  # decoded bytes of files per event/signal
    max_node_attachments: int = DEFAULT_NODE_ATTACHMENTS  # decoded bytes of files kept per node
    header_timeout: float = DEFAULT_HEADER_TIMEOUT  # s for a new connection to send a request head
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT  # s a kept-alive connection may wait for its next request
    body_timeout: float = DEFAULT_BODY_TIMEOUT  # s for a request body to arrive, once its head has

    @property
    def attachment_limits(self) -> AttachmentLimits:
        return AttachmentLimits(self.max_event_attachments, self.max_node_attachments)


def template_locations(options: ServerOptions) -> List[str]:
    """MAAS searches /etc/maas/preseeds before /usr/share/maas/preseeds; likewise."""
    locations = [options.templates_dir] if options.templates_dir else []
    return locations + [options.shipped_templates_dir]


def build_api(nodes: List[Node], options: ServerOptions, writer: Optional[Writer] = None) -> MetadataAPI:
    """The API over the state dir; `writer` (default: write at once) does the file writes."""
    make_private_dir(options.state_dir)
    credentials = CredentialStore(options.state_dir, [n.system_id for n in nodes])
    writer = writer or Immediate()
    records: Dict[str, NodeRecord] = {
        n.system_id: NodeRecord(os.path.join(options.state_dir, "nodes", n.system_id), n.status, writer)
        for n in nodes
    }
    offset = options.clock_offset
    clock: Callable[[], float] = (lambda: time.time() + offset) if offset else time.time
    documents = NodeDocuments(TemplateLoader(template_locations(options)), credentials)
    return MetadataAPI(nodes, credentials, records, clock, documents, server_url=options.server_url,
                       writer=writer, attachment_limits=options.attachment_limits)

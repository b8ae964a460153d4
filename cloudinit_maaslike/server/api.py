"""MAAS's metadata API, as plain request -> answer functions.

The HTTP framework lives in `app`; this module decides what MAAS would say,
so it can be tested without sockets and kept faithful to MAAS's paths,
status codes and messages (see reference/maas.md §5):

* ``/MAAS/metadata/`` lists versions and requires OAuth (no anonymous answer);
* ``<v>/``, ``<v>/meta-data/…`` and ``<v>/user-data`` answer a correctly
  signed node with its own data and an unsigned (or incompletely signed)
  request with MAAS's enlistment answers; a bad signature, an expired
  timestamp or a replayed nonce is a 401 ``Authorization Error: '<why>'``;
* the same tree under ``curtin/``, where user-data is the install payload;
* ``<v>/by-id/<id>/?op=get_preseed`` and ``op=netboot_off`` are anonymous;
* ``status/<id>`` takes JSON events and identifies the node by its token key
  alone (MAAS never checks that signature);
* only versions ``latest`` and ``2012-03-01`` exist.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .compose import compose_preseed, render_cloud_config, vendor_data
from .credstore import CredentialStore
from .inventory import Node
from .oauthcheck import Refusal, Verifier, is_signed, parse_authorization, token_key_from_header
from .records import NodeRecord, summarise_files

LOG = logging.getLogger(__name__)

VERSIONS = ("2012-03-01", "latest")
PREFIX = "/MAAS/metadata"
SIGNAL_STATUSES = (
    "OK", "FAILED", "WORKING", "COMMISSIONING", "TESTING", "TIMEDOUT", "INSTALLING",
    "APPLYING_NETCONF", "RELEASING",
)
SIGNALABLE = ("commissioning", "testing", "deploying", "deployed", "releasing", "rescue",
              "exiting-rescue", "failed")
ENLIST_ITEMS = {
    "instance-id": "i-maas-enlistment",
    "local-hostname": "maas-enlisting-node",
    "public-keys": "",
}
EVENT_REQUIRED = ("event_type", "origin", "name", "description")


@dataclass
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    url: str  # absolute, as the client addressed it (HMAC signs it)
    server_url: str  # scheme://host[:port] the client used
    body: bytes = b""
    form: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain") -> Answer:
        return cls(status, text.encode("utf-8"), content_type)


def _listing(names: List[str]) -> Answer:
    return Answer.text(200, "\n".join(sorted(names)))


class MetadataAPI:
    def __init__(
        self,
        nodes: List[Node],
        credentials: CredentialStore,
        records: Dict[str, NodeRecord],
        clock: Callable[[], float],
        user_data_for: Optional[Callable[[Node, bool, str], Optional[bytes]]] = None,
        server_url: Optional[str] = None,
    ):
        self.nodes = {n.system_id: n for n in nodes}
        self.credentials = credentials
        self.records = records
        self.verifier = Verifier(credentials, clock)
        self._user_data_for = user_data_for
        self._server_url = server_url

    # -- helpers ---------------------------------------------------------
    def server_url(self, request: Request) -> str:
        return self._server_url or request.server_url

    def _authenticate(self, request: Request) -> Tuple[Optional[Node], Optional[Answer]]:
        """(node, None) when signed correctly, (None, None) when anonymous,
        (None, 401) when signed wrongly."""
        params = parse_authorization(request.headers.get("Authorization", ""))
        if not is_signed(params):
            params = {k: v for k, v in request.query.items() if k.startswith("oauth_")}
            if not is_signed(params):
                return None, None
        try:
            token = self.verifier.verify(
                params,
                request.method,
                request.url,
                query=request.url.split("?", 1)[1] if "?" in request.url else "",
                body=request.body,
                content_type=request.headers.get("Content-Type", ""),
            )
        except Refusal as refusal:
            return None, unauthorized(str(refusal))
        node = self.nodes.get(token.owner)
        if node is None:
            return None, Answer.text(403, "Not authenticated as a known node.")
        return node, None

    # -- dispatch ----------------------------------------------------------
    def handle(self, request: Request) -> Answer:
        tail = request.path[len(PREFIX):] if request.path.startswith(PREFIX) else request.path
        parts = [p for p in tail.split("/") if p]
        if parts[:1] == ["status"]:
            return self.status_event(request, parts[1] if len(parts) > 1 else "")
        curtin = parts[:1] == ["curtin"]
        if curtin:
            parts = parts[1:]
        if parts[:1] == ["enlist"]:
            return self.enlist(request, parts[1:])
        if not parts:
            return self.root_index(request)
        version, rest = parts[0], parts[1:]
        if version not in VERSIONS:
            return Answer.text(404, f"Unknown metadata version: {version}")
        head = rest[0] if rest else ""
        if head == "by-id":
            return self.by_id(request, rest[1] if len(rest) > 1 else "")
        if head == "enlist-preseed":
            return self.enlist_preseed(request)
        if head == "meta-data":
            return self.meta_data(request, rest[1] if len(rest) > 1 else "")
        if head == "user-data":
            return self.user_data(request, curtin)
        if head == "maas-scripts":
            return Answer(204)
        return self.version_index(request)

    def root_index(self, request: Request) -> Answer:
        node, refused = self._authenticate(request)
        if refused:
            return refused
        if node is None:
            return unauthorized("Authorization Required")
        return _listing(list(VERSIONS))

    def version_index(self, request: Request) -> Answer:
        node, refused = self._authenticate(request)
        if refused:
            return refused
        if request.method == "POST":
            op = request.query.get("op") or request.form.get("op", "")
            if node is None:
                return unauthorized("Authorization Required")
            if op == "signal":
                return self.signal(node, request)
            if op in ("netboot_off", "netboot_on"):
                return self.netboot(node, op == "netboot_on")
            return Answer.text(400, f"Unrecognised signature: method=POST op={op}")
        names = ["maas-commissioning-scripts", "meta-data"]
        if node is None or self._node_user_data(node, False, request) is not None:
            names.append("user-data")
        return _listing(names)

    def meta_data(self, request: Request, item: str) -> Answer:
        node, refused = self._authenticate(request)
        if refused:
            return refused
        if node is None:
            if not item:
                return _listing(list(ENLIST_ITEMS))
            if item in ENLIST_ITEMS:
                return Answer.text(200, ENLIST_ITEMS[item])
            return Answer.text(404, f"Unknown metadata attribute: {item}")
        if not item:
            names = ["instance-id", "local-hostname", "vendor-data", "x509"]
            if node.public_keys:
                names.append("public-keys")
            return _listing(names)
        if item == "instance-id":
            return Answer.text(200, node.system_id)
        if item == "local-hostname":
            return Answer.text(200, node.fqdn)
        if item == "public-keys":
            return Answer.text(200, "\n".join(node.public_keys))
        if item == "x509":
            return Answer.text(200, "")
        if item == "vendor-data":
            return Answer(200, vendor_data(node), "application/x-yaml; charset=utf-8")
        return Answer.text(404, f"Unknown metadata attribute: {item}")

    def _node_user_data(self, node: Node, curtin: bool, request: Request) -> Optional[bytes]:
        if self._user_data_for is not None:
            return self._user_data_for(node, curtin, self.server_url(request))
        return node.user_data

    def user_data(self, request: Request, curtin: bool) -> Answer:
        node, refused = self._authenticate(request)
        if refused:
            return refused
        if node is None:
            return Answer(200, b"#cloud-config\n# maaslike: enlistment is not offered\n",
                          "application/octet-stream")
        body = self._node_user_data(node, curtin, request)
        record = self.records[node.system_id]
        if not curtin and record.status == "deploying":
            # MAAS: the deployed system reading its user-data ends the deployment.
            record.set(status="deployed")
            record.record("status", {"status": "deployed", "why": "user-data read"})
        if body is None:
            return Answer.text(404, "No user data available for this node.")
        return Answer(200, body, "application/octet-stream")

    # -- anonymous by-id and enlistment ------------------------------------
    def by_id(self, request: Request, system_id: str) -> Answer:
        node = self.nodes.get(system_id)
        if node is None:
            return Answer.text(404, f"No node with system_id {system_id}")
        op = request.query.get("op") or request.form.get("op", "")
        if request.method == "GET" and op == "get_preseed":
            record = self.records[node.system_id]
            token = self.credentials.for_node(node.system_id)
            record.record("preseed", {"status": record.status})
            preseed = compose_preseed(node, token, self.server_url(request), record.status)
            return Answer(200, render_cloud_config(preseed), "text/plain")
        if request.method == "POST" and op == "netboot_off":
            return self.netboot(node, False)
        return Answer.text(400, f"Unrecognised signature: method={request.method} op={op}")

    def enlist_preseed(self, request: Request) -> Answer:
        from .compose import metadata_url

        preseed = {"datasource": {"MAAS": {"metadata_url": metadata_url(self.server_url(request))}},
                   "manage_etc_hosts": True}
        return Answer(200, render_cloud_config(preseed), "text/plain")

    def enlist(self, request: Request, parts: List[str]) -> Answer:
        rest = parts[1:] if parts and parts[0] in VERSIONS else parts
        if rest[:1] == ["meta-data"]:
            item = rest[1] if len(rest) > 1 else ""
            if not item:
                return _listing(list(ENLIST_ITEMS))
            if item in ENLIST_ITEMS:
                return Answer.text(200, ENLIST_ITEMS[item])
            return Answer.text(404, f"Unknown metadata attribute: {item}")
        if rest[:1] == ["user-data"]:
            return Answer(200, b"#cloud-config\n", "application/octet-stream")
        return _listing(["meta-data", "user-data"])

    # -- what nodes say ------------------------------------------------------
    def netboot(self, node: Node, on: bool) -> Answer:
        record = self.records[node.system_id]
        record.set(netboot=on)
        record.record("netboot", {"netboot": on})
        return Answer.text(200, "OK")

    def signal(self, node: Node, request: Request) -> Answer:
        record = self.records[node.system_id]
        status = request.form.get("status")
        if not status:
            return Answer.text(400, "Missing parameter: status")
        if status not in SIGNAL_STATUSES:
            return Answer.text(400, f"Unknown status: {status}")
        if record.status not in SIGNALABLE:
            return Answer.text(409, f"Machine status isn't valid (status is {record.status.title()})")
        entry: Dict[str, Any] = {"status": status, "error": request.form.get("error", "")}
        for key in ("script_result_id", "name", "exit_status", "script_result", "result", "runtime"):
            if key in request.form:
                entry[key] = request.form[key]
        entry["files"] = [{"name": name, "size": len(data)} for name, data in request.files.items()]
        record.record("signal", entry)
        if status == "FAILED" and record.status == "deploying":
            record.set(status="failed", error=entry["error"])
        else:
            record.set(error=entry["error"])
        return Answer.text(200, "OK")

    def status_event(self, request: Request, _path_system_id: str) -> Answer:
        if request.method != "POST":
            return Answer.text(405, "Method not allowed")
        token_key = token_key_from_header(request.headers.get("Authorization", ""))
        if not token_key:
            return Answer(401)
        token = self.credentials.by_token(token_key)
        if token is None or token.owner not in self.nodes:
            return Answer(204)  # MAAS drops events from unknown tokens silently
        try:
            message = json.loads(request.body.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return Answer.text(400, "Status payload must be ASCII JSON.")
        if not isinstance(message, dict):
            return Answer.text(400, "Status payload must be a JSON object.")
        missing = [k for k in EVENT_REQUIRED if k not in message]
        if missing:
            return Answer.text(400, f"Missing parameter(s) {', '.join(missing)} in status message.")
        record = self.records[token.owner]
        event = {k: message.get(k) for k in (*EVENT_REQUIRED, "result", "timestamp", "level")
                 if message.get(k) is not None}
        if message.get("files"):
            event["files"] = summarise_files(message["files"])
        record.record("event", event)
        if (
            "/" not in str(message["name"])
            and message["event_type"] == "finish"
            and message.get("result") in ("FAIL", "FAILURE")
        ):
            record.set(status="failed", error=str(message.get("description", "")))
        return Answer(204)

    # -- read-only views -----------------------------------------------------
    def node_view(self, system_id: str) -> Answer:
        record = self.records.get(system_id)
        if record is None:
            return Answer.text(404, f"No node with system_id {system_id}")
        return Answer(200, json.dumps(record.snapshot(), indent=1).encode(), "application/json")


def unauthorized(why: str) -> Answer:
    answer = Answer.text(401, f"Authorization Error: '{why}'")
    answer.headers["WWW-Authenticate"] = 'OAuth realm="OAuth"'
    return answer

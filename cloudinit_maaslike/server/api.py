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
  alone (MAAS never checks that signature); a body that is not JSON of the
  expected shape (any nesting, any types) is a 400 with one line, and files
  attached to events and signals are streamed to disk within the caps of
  `AttachmentLimits` (past them a 413, and nothing of the request is kept);
* only versions ``latest`` and ``2012-03-01`` exist.

What a node says moves its status by `transitions`; preseeds and payloads
come from `documents` (the templates); `records` keeps everything per node.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import MaaslikeError
from ..redact import redact_text
from .compose import vendor_data
from .credstore import CredentialStore
from .diskwriter import Immediate, Writer
from .documents import NodeDocuments
from .eventfiles import (
    AttachmentLimits,
    AttachmentTooLarge,
    BadEventFile,
    parse_event_files,
    read_chunks,
    shown,
)
from .inventory import Node
from .oauthcheck import Refusal, Verifier, is_signed, parse_authorization, token_key_from_header
from .records import NodeRecord
from .transitions import SIGNAL_STATUSES, after_event, after_signal, after_user_data_read

LOG = logging.getLogger(__name__)

VERSIONS = ("2012-03-01", "latest")
PREFIX = "/MAAS/metadata"
ENLIST_ITEMS = {
    "instance-id": "i-maas-enlistment",
    "local-hostname": "maas-enlisting-node",
    "public-keys": "",
}
EVENT_REQUIRED = ("event_type", "origin", "name", "description")
EVENT_OPTIONAL_TEXT = ("result", "level")
LATEST_TIMESTAMP = 253402300800  # 10000-01-01: later (or earlier than -it) is no time
SLOW_BODY = 256 * 1024  # parsing a body this big, or storing files, is done on a worker thread


class BadPayload(ValueError):
    """A request body that cannot be read as what it must be; the text is the 400's."""


def _reject_constant(name: str) -> Any:
    raise BadPayload(f"{name} is not JSON")


def read_status_message(body: bytes) -> Dict[str, Any]:
    """A status event's JSON object, its fields' types checked; `BadPayload` (one line) if not."""
    if not body.isascii():
        raise BadPayload("Status payload must be ASCII JSON.")
    try:
        message = json.loads(body.decode("ascii"), parse_constant=_reject_constant)
    except BadPayload as exc:
        raise BadPayload(f"Status payload must be ASCII JSON ({exc}).") from None
    except json.JSONDecodeError as exc:
        raise BadPayload(f"Status payload must be ASCII JSON ({exc}).") from None
    except RecursionError:
        raise BadPayload("Status payload must be ASCII JSON (it nests too deeply).") from None
    except ValueError:  # an integer longer than Python reads (sys.get_int_max_str_digits)
        raise BadPayload("Status payload must be ASCII JSON (a number has too many digits).") from None
    if not isinstance(message, dict):
        raise BadPayload("Status payload must be a JSON object.")
    missing = [k for k in EVENT_REQUIRED if k not in message]
    if missing:
        raise BadPayload(f"Missing parameter(s) {', '.join(missing)} in status message.")
    for key in EVENT_REQUIRED:
        if not isinstance(message[key], str):
            raise BadPayload(f"Bad status message: {key} must be a string, not {shown(message[key])}.")
    for key in EVENT_OPTIONAL_TEXT:
        if message.get(key) is not None and not isinstance(message[key], str):
            raise BadPayload(f"Bad status message: {key} must be a string, not {shown(message[key])}.")
    timestamp = message.get("timestamp")
    if timestamp is not None and (
            isinstance(timestamp, bool) or not isinstance(timestamp, (int, float))
            or not (math.isfinite(timestamp) and abs(timestamp) < LATEST_TIMESTAMP)):
        raise BadPayload("Bad status message: timestamp must be seconds since 1970,"
                         f" not {shown(timestamp)}.")
    return message


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
    # multipart file parts: (field name, content or an open file holding it)
    files: Sequence[Tuple[str, Union[bytes, IO[bytes]]]] = ()


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
        documents: NodeDocuments,
        server_url: Optional[str] = None,
        writer: Optional[Writer] = None,
        attachment_limits: Optional[AttachmentLimits] = None,
    ):
        self.nodes = {n.system_id: n for n in nodes}
        self.credentials = credentials
        self.records = records
        self.verifier = Verifier(credentials, clock)
        self.documents = documents
        self._server_url = server_url
        self.writer: Writer = writer or Immediate()
        self.attachment_limits = attachment_limits or AttachmentLimits()

    def close(self) -> None:
        """Finish the file writes still queued (the server calls this as it stops)."""
        self.writer.close()

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
    def is_slow(self, request: Request) -> bool:
        """Whether answering means building a preseed or payload not built yet,
        reading a big body or storing attached files.

        Packing takes tens of milliseconds, inflating files longer; the server
        answers such requests on a worker thread so the others are not held up
        behind them.
        """
        parts = [p for p in request.path[len(PREFIX):].split("/") if p]
        if request.files or len(request.body) > SLOW_BODY:
            return True
        if parts[:1] == ["status"]:
            return b'"files"' in request.body
        if len(parts) >= 3 and parts[1] == "by-id":  # <v>/by-id/<system_id>/?op=get_preseed
            kind, system_id = "preseed", parts[2]
        elif len(parts) == 3 and parts[0] == "curtin" and parts[2] == "user-data":
            token = self.credentials.by_token(
                token_key_from_header(request.headers.get("Authorization", "")) or "")
            kind, system_id = "curtin", token.owner if token else ""
        else:
            return False
        node = self.nodes.get(system_id)
        if node is None:
            return False
        status = self.records[system_id].status
        return not self.documents.is_ready(kind, node, status, self.server_url(request))

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
        return self.version_index(request, curtin)

    def root_index(self, request: Request) -> Answer:
        node, refused = self._authenticate(request)
        if refused:
            return refused
        if node is None:
            return unauthorized("Authorization Required")
        return _listing(list(VERSIONS))

    def version_index(self, request: Request, curtin: bool) -> Answer:
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
        if node is None or curtin or node.user_data is not None:
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

    def user_data(self, request: Request, curtin: bool) -> Answer:
        node, refused = self._authenticate(request)
        if refused:
            return refused
        if node is None:
            return Answer(200, b"#cloud-config\n# maaslike: enlistment is not offered\n",
                          "application/octet-stream")
        record = self.records[node.system_id]
        if curtin:
            try:
                body: Optional[bytes] = self.documents.curtin_user_data(
                    node, record.status, self.server_url(request))
            except MaaslikeError as exc:
                return self.failure(node, "curtin user-data", exc)
        else:
            # MAAS: the deployed system reading its user-data ends the deployment.
            record.apply(after_user_data_read(record.status, curtin), "user-data read")
            body = node.user_data
        if body is None:
            return Answer(404)  # MAAS: an empty 404 when the node has no user-data
        return Answer(200, body, "application/octet-stream")

    def failure(self, node: Node, what: str, exc: MaaslikeError) -> Answer:
        """A 500 for a document that cannot be made; the text names why, without secrets."""
        message = redact_text(str(exc), self.credentials.all_secrets())
        LOG.error("%s for %s: %s", what, node.system_id, message)
        return Answer.text(500, f"Cannot build {what} for {node.system_id}: {message}")

    # -- anonymous by-id and enlistment ------------------------------------
    def by_id(self, request: Request, system_id: str) -> Answer:
        node = self.nodes.get(system_id)
        if node is None:
            return Answer.text(404, f"No node with system_id {system_id}")
        op = request.query.get("op") or request.form.get("op", "")
        if request.method == "GET" and op == "get_preseed":
            record = self.records[node.system_id]
            try:
                preseed = self.documents.preseed(node, record.status, self.server_url(request))
            except MaaslikeError as exc:
                return self.failure(node, "preseed", exc)
            record.record("preseed", {"status": record.status})
            return Answer(200, preseed, "text/plain")
        if request.method == "POST" and op == "netboot_off":
            return self.netboot(node, False)
        return Answer.text(400, f"Unrecognised signature: method={request.method} op={op}")

    def enlist_preseed(self, request: Request) -> Answer:
        try:
            preseed = self.documents.enlist_preseed(self.server_url(request))
        except MaaslikeError as exc:
            message = redact_text(str(exc), self.credentials.all_secrets())
            return Answer.text(500, f"Cannot build the enlistment preseed: {message}")
        return Answer(200, preseed, "text/plain")

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
        record.record("netboot", {"netboot": on,
                                  "description": "Node enabled netboot" if on else "Node disabled netboot"})
        return Answer.text(200, "OK")

    def signal(self, node: Node, request: Request) -> Answer:
        """``op=signal``: MAAS's checks and messages, then `transitions.after_signal`."""
        record = self.records[node.system_id]
        status = request.form.get("status")
        if status is None:
            return Answer.text(400, "No provided status!")
        if status not in SIGNAL_STATUSES:
            return Answer.text(400, f"Unknown status: '{status}'")
        error = request.form.get("error", "")
        outcome = after_signal(record.status, status, error)
        if outcome.conflict:
            return Answer.text(409, outcome.conflict)
        entry: Dict[str, Any] = {"status": status, "error": error, "node_status": record.status}
        for key in ("script_result_id", "name", "exit_status", "script_result", "result",
                    "runtime", "script_version_id"):
            if key in request.form:
                entry[key] = request.form[key]
        if request.files:
            stored = self._store(node, [(name, read_chunks(content)) for name, content in request.files])
            if isinstance(stored, Answer):
                return stored
            entry["files"] = stored
        if outcome.note:
            entry["note"] = outcome.note
        record.record("signal", entry)
        record.apply(outcome, f"signal {status}")
        return Answer.text(200, "OK")

    def status_event(self, request: Request, _path_system_id: str) -> Answer:
        """A reporter's event: the node is whoever owns the token (MAAS checks nothing else)."""
        if request.method != "POST":
            return Answer.text(405, "Method not allowed")
        token_key = token_key_from_header(request.headers.get("Authorization", ""))
        if not token_key:
            return Answer(401)
        token = self.credentials.by_token(token_key)
        if token is None or token.owner not in self.nodes:
            return Answer(204)  # MAAS drops events from unknown tokens silently
        try:
            message = read_status_message(request.body)
            files = parse_event_files(message["files"]) if message.get("files") else []
        except AttachmentTooLarge as exc:
            return Answer.text(413, f"Attached files refused: {exc}.")
        except BadEventFile as exc:
            return Answer.text(400, f"Bad status message: {exc}.")
        except BadPayload as exc:
            return Answer.text(400, str(exc))
        node = self.nodes[token.owner]
        record = self.records[token.owner]
        event = {k: message.get(k) for k in (*EVENT_REQUIRED, "result", "timestamp", "level")
                 if message.get(k) is not None}
        if files:
            stored = self._store(node, [(f.path, f.chunks()) for f in files])
            if isinstance(stored, Answer):
                return stored
            event["files"] = stored
        outcome = after_event(record.status, message["name"], message["event_type"],
                              message.get("result"), message["description"])
        if outcome.note:
            event["note"] = outcome.note
        record.record("event", event)
        record.apply(outcome, f"event {message['name']} {message['event_type']}")
        return Answer(204)

    def _store(self, node: Node, files: Sequence[Tuple[str, Iterable[bytes]]]) -> Union[List[Dict[str, Any]], Answer]:
        """Stream attached files to the node's record: what to list, or the answer refusing them."""
        try:
            return self.records[node.system_id].store_attachments(files, self.attachment_limits)
        except AttachmentTooLarge as exc:
            LOG.warning("refused files from %s: %s", node.system_id, exc)
            return Answer.text(413, f"Attached files refused: {exc}.")
        except BadEventFile as exc:
            return Answer.text(400, f"Bad status message: {exc}.")
        except OSError as exc:
            reason = exc.strerror or str(exc)
            LOG.error("cannot store files attached by %s: %s", node.system_id, reason)
            return Answer.text(500, f"Cannot store the attached files of {node.system_id}: {reason}")

    # -- read-only views -----------------------------------------------------
    def node_view(self, system_id: str) -> Answer:
        record = self.records.get(system_id)
        if record is None:
            return Answer.text(404, f"No node with system_id {system_id}")
        # Nodes do not send their secrets in events; should one, it is not shown.
        text = redact_text(json.dumps(record.snapshot(), indent=1), self.credentials.all_secrets())
        return Answer(200, text.encode(), "application/json")


def unauthorized(why: str) -> Answer:
    answer = Answer.text(401, f"Authorization Error: '{why}'")
    answer.headers["WWW-Authenticate"] = 'OAuth realm="OAuth"'
    return answer

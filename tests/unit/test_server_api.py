"""MAAS's answers, decided without sockets."""

import json
import time

import pytest

from cloudinit_maaslike.clockskew import ServerClock
from cloudinit_maaslike.oauth import Credentials, Signer
from cloudinit_maaslike.server.api import Request
from cloudinit_maaslike.server.inventory import parse_inventory
from cloudinit_maaslike.server.state import ServerOptions, build_api

NODES = {"nodes": [
    {"system_id": "abc123", "hostname": "node1", "public_keys": ["ssh-rsa AAA k"],
     "user_data": "#cloud-config\n{}\n"},
    {"system_id": "def456", "hostname": "node2", "status": "ready"},
    {"system_id": "ghi789", "hostname": "node3", "status": "allocated"},
]}
BASE = "http://127.0.0.1:5248"


@pytest.fixture
def api(tmp_path):
    return build_api(parse_inventory(NODES, "test"), ServerOptions(state_dir=str(tmp_path)))


def creds(api, system_id="abc123") -> Credentials:
    t = api.credentials.for_node(system_id)
    return Credentials(t.consumer_key, t.token_key, t.token_secret)


def call(api, path, method="GET", auth=None, form=None, body=b"", headers=None, query=None):
    url = BASE + path
    hdrs = dict(headers or {})
    if auth is not None:
        signer = auth if isinstance(auth, Signer) else Signer(auth)
        hdrs["Authorization"] = signer.sign(url, method)[0]
    q = dict(query or {})
    if "?" in path:
        for pair in path.split("?", 1)[1].split("&"):
            k, _, v = pair.partition("=")
            q[k] = v
    return api.handle(Request(method=method, path=path.split("?")[0], query=q, headers=hdrs,
                              url=url, server_url=BASE, body=body, form=form or {}))


def test_signed_node_gets_its_own_metadata(api):
    c = creds(api)
    assert call(api, "/MAAS/metadata/2012-03-01/meta-data/instance-id", auth=c).body == b"abc123"
    assert call(api, "/MAAS/metadata/latest/meta-data/local-hostname", auth=c).body == b"node1.maas"
    assert call(api, "/MAAS/metadata/2012-03-01/meta-data/public-keys", auth=c).body == b"ssh-rsa AAA k"
    listing = call(api, "/MAAS/metadata/2012-03-01/meta-data/", auth=c).body.decode().split("\n")
    assert listing == sorted(listing) and "public-keys" in listing


def test_unsigned_requests_get_enlistment_answers(api):
    assert call(api, "/MAAS/metadata/2012-03-01/meta-data/instance-id").body == b"i-maas-enlistment"
    assert call(api, "/MAAS/metadata/latest/meta-data/local-hostname").body == b"maas-enlisting-node"


def test_root_index_needs_oauth(api):
    answer = call(api, "/MAAS/metadata/")
    assert answer.status == 401
    assert call(api, "/MAAS/metadata/", auth=creds(api)).body == b"2012-03-01\nlatest"


def test_unknown_version_and_item(api):
    answer = call(api, "/MAAS/metadata/2009-01-01/meta-data/instance-id", auth=creds(api))
    assert (answer.status, answer.body) == (404, b"Unknown metadata version: 2009-01-01")
    answer = call(api, "/MAAS/metadata/latest/meta-data/nonsense", auth=creds(api))
    assert (answer.status, answer.body) == (404, b"Unknown metadata attribute: nonsense")


def test_expired_timestamp_is_refused_with_maas_message(api):
    old = ServerClock(None, wall=lambda: time.time() - 301, boot_id="x")
    answer = call(api, "/MAAS/metadata/latest/meta-data/instance-id", auth=Signer(creds(api), old))
    assert answer.status == 401
    assert answer.body.startswith(b"Authorization Error: 'Expired timestamp")
    assert answer.headers["WWW-Authenticate"] == 'OAuth realm="OAuth"'


def test_future_timestamp_is_accepted_like_maas(api):
    ahead = ServerClock(None, wall=lambda: time.time() + 3600, boot_id="x")
    answer = call(api, "/MAAS/metadata/latest/meta-data/instance-id", auth=Signer(creds(api), ahead))
    assert answer.status == 200


def test_replayed_nonce_is_refused(api):
    url = BASE + "/MAAS/metadata/latest/meta-data/instance-id"
    header = Signer(creds(api)).sign(url)[0]
    first = call(api, "/MAAS/metadata/latest/meta-data/instance-id", headers={"Authorization": header})
    second = call(api, "/MAAS/metadata/latest/meta-data/instance-id", headers={"Authorization": header})
    assert first.status == 200
    assert (second.status, second.body) == (401, b"Authorization Error: 'Nonce already used'")


def test_wrong_secret_and_unknown_keys_are_refused(api):
    c = creds(api)
    bad = call(api, "/MAAS/metadata/latest/meta-data/instance-id",
               auth=Credentials(c.consumer_key, c.token_key, "wrong"))
    assert bad.status == 401 and bad.body == b"Authorization Error: 'Invalid signature.'"
    bad = call(api, "/MAAS/metadata/latest/meta-data/instance-id",
               auth=Credentials("nope", c.token_key, c.token_secret))
    assert bad.body == b"Authorization Error: 'Invalid API key.'"


def test_a_token_works_only_for_its_own_node(api):
    mine, theirs = creds(api, "abc123"), creds(api, "def456")
    mixed = Credentials(mine.consumer_key, theirs.token_key, theirs.token_secret)
    answer = call(api, "/MAAS/metadata/latest/meta-data/instance-id", auth=mixed)
    assert answer.status == 401 and b"Invalid access token" in answer.body
    assert call(api, "/MAAS/metadata/latest/meta-data/instance-id", auth=theirs).body == b"def456"


def test_preseed_is_anonymous_and_carries_the_nodes_credentials(api):
    import yaml

    answer = call(api, "/MAAS/metadata/latest/by-id/abc123/?op=get_preseed")
    assert answer.status == 200 and answer.body.startswith(b"#cloud-config\n")
    preseed = yaml.safe_load(answer.body)
    maas = preseed["datasource"]["MAAS"]
    c = creds(api)
    assert maas == {"metadata_url": BASE + "/MAAS/metadata/curtin", "consumer_key": c.consumer_key,
                    "token_key": c.token_key, "token_secret": c.token_secret}
    assert preseed["reporting"]["maas"]["endpoint"] == BASE + "/MAAS/metadata/status/abc123"
    assert preseed["power_state"]["mode"] == "reboot"
    ready = yaml.safe_load(call(api, "/MAAS/metadata/latest/by-id/def456/?op=get_preseed").body)
    assert ready["datasource"]["MAAS"]["metadata_url"] == BASE + "/MAAS/metadata/"
    assert call(api, "/MAAS/metadata/latest/by-id/nobody/?op=get_preseed").status == 404


def test_reading_user_data_ends_a_deployment(api):
    c = creds(api)
    assert call(api, "/MAAS/metadata/curtin/latest/user-data", auth=c).status == 200
    assert api.records["abc123"].status == "deploying"
    assert call(api, "/MAAS/metadata/latest/user-data", auth=c).status == 200
    assert api.records["abc123"].status == "deployed"


def test_events_need_a_token_and_the_required_fields(api):
    c = creds(api)
    event = {"event_type": "start", "origin": "curtin", "name": "cmd-install", "description": "x"}
    assert call(api, "/MAAS/metadata/status/abc123", "POST", body=json.dumps(event).encode()).status == 401
    answer = call(api, "/MAAS/metadata/status/abc123", "POST", auth=c,
                  body=json.dumps({"event_type": "start"}).encode())
    assert answer.status == 400
    assert answer.body == b"Missing parameter(s) origin, name, description in status message."
    assert call(api, "/MAAS/metadata/status/abc123", "POST", auth=c,
                body=json.dumps(event).encode()).status == 204
    assert api.records["abc123"].events[-1]["name"] == "cmd-install"


def test_signal_and_netboot(api):
    c = creds(api)
    answer = call(api, "/MAAS/metadata/curtin/latest/", "POST", auth=c, form={"op": "signal", "status": "OK"})
    assert (answer.status, answer.body) == (200, b"OK")
    assert call(api, "/MAAS/metadata/latest/", "POST", auth=c,
                form={"op": "signal", "status": "BOGUS"}).status == 400
    # MAAS: a ready machine may signal (nothing happens); an allocated one may not.
    assert call(api, "/MAAS/metadata/latest/", "POST", auth=creds(api, "def456"),
                form={"op": "signal", "status": "OK"}).body == b"OK"
    answer = call(api, "/MAAS/metadata/latest/", "POST", auth=creds(api, "ghi789"),
                  form={"op": "signal", "status": "OK"})
    assert (answer.status, answer.body) == (409, b"Machine status isn't valid (status is Allocated)")
    assert call(api, "/MAAS/metadata/latest/", "POST", auth=c, form={"op": "dance"}).body == \
        b"Unrecognised signature: method=POST op=dance"
    assert call(api, "/MAAS/metadata/latest/by-id/abc123/?op=netboot_off", "POST").body == b"OK"
    assert api.records["abc123"].netboot is False

"""The stand-in server over real HTTP: OAuth refusals, reporters, events, images."""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import time

import pytest
import requests

from cloudinit_maaslike.clockskew import ServerClock
from cloudinit_maaslike.oauth import HMAC_SHA1, Credentials, Signer

from .servers import start_maas

CLOCK_OFFSET = -1000.0  # the server's clock runs behind; Date must say so


@pytest.fixture
def maas(tmp_path):
    images = tmp_path / "images"
    (images / "debian").mkdir(parents=True)
    (images / "debian" / "root.tgz").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "outside.txt").write_bytes(b"not for nodes")
    server = start_maas(str(tmp_path / "state"), clock_offset=CLOCK_OFFSET, images_dir=str(images))
    yield server
    server.server.stop()


def get(maas, path, signer=None, **kwargs):
    url = maas.url + path
    headers = kwargs.pop("headers", {})
    if signer is not None:
        headers["Authorization"] = signer.sign(url)[0]
    return requests.get(url, headers=headers, timeout=10, **kwargs)


def server_clock():
    """A clock that signs with the server's time, as a node does after learning it."""
    return ServerClock(None, wall=lambda: time.time() + CLOCK_OFFSET, boot_id="test")


def assert_refused(answer, why):
    assert answer.status_code == 401
    assert answer.text == f"Authorization Error: '{why}'"
    assert answer.headers["WWW-Authenticate"] == 'OAuth realm="OAuth"'
    date = email.utils.parsedate_to_datetime(answer.headers["Date"]).timestamp()
    assert abs(date - (time.time() + CLOCK_OFFSET)) < 5  # the server's clock, for skew


def test_every_oauth_refusal_has_its_message_and_a_date(maas):
    c = maas.creds()
    path = "/MAAS/metadata/curtin/latest/meta-data/instance-id"
    ok = Signer(c, server_clock())
    assert get(maas, path, ok).text == "abc123"
    assert get(maas, path, Signer(c, server_clock(), method=HMAC_SHA1)).text == "abc123"

    wrong_secret = Credentials(c.consumer_key, c.token_key, "not-the-secret")
    assert_refused(get(maas, path, Signer(wrong_secret, server_clock())), "Invalid signature.")
    unknown_consumer = Credentials("nobody", c.token_key, c.token_secret)
    assert_refused(get(maas, path, Signer(unknown_consumer, server_clock())), "Invalid API key.")
    other = maas.creds("def456")
    mixed = Credentials(c.consumer_key, other.token_key, other.token_secret)
    assert_refused(get(maas, path, Signer(mixed, server_clock())), f"Invalid access token: {other.token_key}")

    # The node's own clock, 1000 s ahead of the server's: more than 300 s "in the past"
    # from where the server stands is what MAAS refuses; ahead is accepted.
    stale = ServerClock(None, wall=lambda: time.time() + CLOCK_OFFSET - 301, boot_id="t")
    answer = get(maas, path, Signer(c, stale))
    assert answer.text.startswith("Authorization Error: 'Expired timestamp: given ")
    assert_refused(answer, answer.text[len("Authorization Error: '"):-1])
    assert get(maas, path, Signer(c)).status_code == 200  # ahead of the server: fine

    header = ok.sign(maas.url + path)[0]
    assert get(maas, path, headers={"Authorization": header}).status_code == 200
    assert_refused(get(maas, path, headers={"Authorization": header}), "Nonce already used")

    assert get(maas, "/MAAS/metadata/").status_code == 401  # no anonymous index


def test_unknown_versions_and_items_are_maas_404s(maas):
    signer = Signer(maas.creds(), server_clock())
    answer = get(maas, "/MAAS/metadata/2009-04-04/meta-data/instance-id", signer)
    assert (answer.status_code, answer.text) == (404, "Unknown metadata version: 2009-04-04")
    answer = get(maas, "/MAAS/metadata/latest/meta-data/favourite-colour", signer)
    assert (answer.status_code, answer.text) == (404, "Unknown metadata attribute: favourite-colour")
    assert get(maas, "/MAAS/metadata/latest/by-id/nobody/?op=get_preseed").status_code == 404


def test_curtin_webhook_events_and_legacy_signal(maas):
    """What curtin's reporters send, byte for byte in shape: JSON events, then op=signal."""
    c = maas.creds()
    signer = Signer(c, server_clock())
    endpoint = maas.url + "/MAAS/metadata/status/abc123"
    log = b"curtin: Installation finished.\n"
    events = [
        {"event_type": "start", "origin": "curtin", "name": "cmd-install",
         "description": "curtin command install", "timestamp": time.time()},
        {"event_type": "finish", "origin": "curtin", "name": "cmd-install/stage-early",
         "description": "running early commands", "result": "SUCCESS", "timestamp": time.time()},
        {"event_type": "finish", "origin": "curtin", "name": "cmd-install",
         "description": "curtin command install", "result": "SUCCESS", "timestamp": time.time(),
         "files": [{"path": "/tmp/install.log", "content": base64.b64encode(log).decode(),
                    "encoding": "base64"}]},
    ]
    for event in events:
        answer = requests.post(endpoint, data=json.dumps(event).encode(), timeout=10, headers={
            "Content-Type": "application/json", "Authorization": signer.sign(endpoint, "POST")[0]})
        assert answer.status_code == 204, answer.text

    # curtin's legacy reporter: op in the query, a hand-built multipart body with
    # status, error and each file under its base name.
    signal_url = maas.url + "/MAAS/metadata/curtin/latest/?op=signal"
    boundary = "AbCdEfGhIjKlMnOpQrStUvWxYzAbCd"
    body = "\r\n".join([
        "--" + boundary, 'Content-Disposition: form-data; name="status"', "", "OK",
        "--" + boundary, 'Content-Disposition: form-data; name="error"', "", "Installation succeeded.",
        "--" + boundary, 'Content-Disposition: form-data; name="install.log"; filename="install.log"',
        "Content-Type: application/octet-stream", "", log.decode(),
        "--" + boundary + "--", "",
    ]).encode()
    answer = requests.post(signal_url, data=body, timeout=10, headers={
        "Authorization": signer.sign(signal_url, "POST")[0],
        "content-type": "multipart/form-data; boundary=" + boundary})
    assert (answer.status_code, answer.content) == (200, b"OK")  # curtin checks for exactly b'OK'

    view = requests.get(maas.url + "/maaslike/nodes/abc123/events", timeout=10)
    assert view.headers["Content-Type"].startswith("application/json")
    shown = view.json()
    assert shown["status"] == "deploying"  # OK from a deploying node changes nothing (MAAS)
    names = [(e["kind"], e.get("name"), e.get("event_type")) for e in shown["events"]]
    assert names == [("event", "cmd-install", "start"), ("event", "cmd-install/stage-early", "finish"),
                     ("event", "cmd-install", "finish"), ("signal", None, None)]
    assert shown["events"][2]["files"] == [{"name": "/tmp/install.log", "size": len(log)}]
    assert shown["events"][3]["files"] == [{"name": "install.log", "size": len(log)}]
    assert shown["events"][3]["error"] == "Installation succeeded."
    assert c.token_secret not in view.text and "Installation finished" not in view.text


def test_events_without_a_token_or_from_strangers(maas):
    endpoint = maas.url + "/MAAS/metadata/status/abc123"
    body = json.dumps({"event_type": "start", "origin": "x", "name": "n", "description": "d"})
    assert requests.post(endpoint, data=body, timeout=10).status_code == 401
    stranger = Signer(Credentials("ck", "not-a-token", "s"))
    answer = requests.post(endpoint, data=body, timeout=10,
                           headers={"Authorization": stranger.sign(endpoint, "POST")[0]})
    assert answer.status_code == 204 and maas.events() == []  # dropped silently, like MAAS
    assert requests.get(endpoint, timeout=10).status_code == 405


def test_images_are_served_with_ranges(maas):
    whole = requests.get(maas.url + "/images/debian/root.tgz", timeout=10)
    assert whole.status_code == 200 and whole.content == bytes(range(256)) * 40
    part = requests.get(maas.url + "/images/debian/root.tgz", headers={"Range": "bytes=256-511"},
                        timeout=10)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 256-511/{256 * 40}"
    assert part.content == bytes(range(256))
    head = requests.head(maas.url + "/images/debian/root.tgz", timeout=10)
    assert head.headers["Content-Length"] == str(256 * 40)
    for path in ("/images/%2e%2e/outside.txt", "/images/debian/%2e%2e/%2e%2e/outside.txt",
                 "/images/nothing.tgz", "/images/debian"):
        answer = requests.get(maas.url + path, timeout=10)
        assert answer.status_code == 404, path
        assert b"not for nodes" not in answer.content


def test_no_images_dir_means_no_images(tmp_path):
    server = start_maas(str(tmp_path / "state"))
    try:
        assert requests.get(server.url + "/images/x", timeout=10).status_code == 404
    finally:
        server.server.stop()


def test_access_log_holds_no_secret(maas, caplog):
    caplog.set_level(logging.INFO)
    c = maas.creds()
    assert requests.get(maas.preseed_url(), timeout=10).status_code == 200
    url = maas.url + "/MAAS/metadata/curtin/latest/meta-data/instance-id"
    query_signed = (f"{url}?oauth_consumer_key={c.consumer_key}&oauth_token={c.token_key}"
                    f"&oauth_signature=%26{c.token_secret}&oauth_signature_method=PLAINTEXT"
                    f"&oauth_timestamp={int(time.time() + CLOCK_OFFSET)}&oauth_nonce=n1")
    assert requests.get(query_signed, timeout=10).text == "abc123"
    get(maas, "/MAAS/metadata/curtin/latest/user-data", Signer(c, server_clock()))
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("op=get_preseed" in line for line in access)
    assert any("oauth_signature=…" in line for line in access)
    assert not any(c.token_secret in line for line in caplog.messages)

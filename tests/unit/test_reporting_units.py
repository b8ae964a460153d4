import base64
import json
import logging

from cloudinit_maaslike.install.installlog import RedactFilter, secret_values
from cloudinit_maaslike.mounts import _unescape, mounts_under
from cloudinit_maaslike.reporting import Event, PostedFile
from cloudinit_maaslike.reporting.maas_signal import encode_multipart


def test_finish_event_shape():
    event = Event("cmd-install", "curtin command install", "finish", result="FAIL",
                  files=(PostedFile("/tmp/install.log", b"log text"),), timestamp=5.0)
    data = event.as_dict()
    assert data["origin"] == "curtin" and data["result"] == "FAIL" and data["timestamp"] == 5.0
    assert data["files"] == [{"path": "/tmp/install.log", "encoding": "base64",
                              "content": base64.b64encode(b"log text").decode()}]
    start = Event("cmd-install/stage-early", "early stage", "start").as_dict()
    assert "result" not in start and "files" not in start
    json.dumps(data)


def test_multipart_has_fields_and_files():
    body, ctype = encode_multipart({"op": "signal", "status": "OK"}, {"install.log": b"\x00bin"})
    boundary = ctype.split("boundary=")[1]
    assert body.count(f"--{boundary}".encode()) == 4 and body.endswith(f"--{boundary}--\r\n".encode())
    assert b'name="status"\r\n\r\nOK\r\n' in body and b"\x00bin" in body


def test_secret_values_found_anywhere():
    cfg = {"reporting": {"maas": {"token_secret": "abcd1234"}},
           "debconf_selections": {"maas": "x maas-metadata-credentials string "
                                          "oauth_consumer_key=c&oauth_token_key=t&oauth_token_secret=zyxw9876"},
           "list": [{"password": "hunter22"}], "short": {"token_secret": "x"}}
    assert secret_values(cfg) == {"abcd1234", "zyxw9876", "hunter22"}


def test_redact_filter_rewrites_records():
    logger = logging.getLogger("test.redact")
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger.addFilter(RedactFilter(["s3cr3t"]))
    logger.addHandler(Keep())
    logger.warning("value %s and %s", "s3cr3t", 'oauth_signature="%26s3cr3t"')
    assert records == ['value <redacted> and oauth_signature="<redacted>"']


def test_mountinfo_parsing(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
        "30 22 0:5 / /tmp/t rw - tmpfs none rw\n"
        "31 30 0:6 / /tmp/t/with\\040space rw - tmpfs none rw\n"
        "32 31 0:7 / /tmp/t/with\\040space/deeper rw - tmpfs none rw\n"
        "33 22 0:8 / /tmp/tt rw - tmpfs none rw\n")
    assert mounts_under("/tmp/t", str(info)) == ["/tmp/t/with space/deeper", "/tmp/t/with space", "/tmp/t"]
    assert _unescape("a\\011b\\134") == "a\tb\\"

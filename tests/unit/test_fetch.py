"""The retry, deadline and skew rules of one item fetch, with a scripted session."""

import time
from email.message import Message
from email.utils import formatdate

import pytest

from cloudinit_maaslike.clockskew import ServerClock
from cloudinit_maaslike.errors import (
    MetadataAuthError,
    MetadataError,
    MetadataNotFound,
    MetadataUnavailable,
)
from cloudinit_maaslike.httpclient import HttpResponse, TransportError
from cloudinit_maaslike.metadata.fetch import Fetcher, FetchSettings, backoff_delay
from cloudinit_maaslike.oauth import Credentials, Signer

URL = "http://10.0.0.1:5248/MAAS/metadata/2012-03-01/meta-data/instance-id"
SECRET = "s3cr3t-token-secret"


def response(status: int, body: bytes = b"", headers=None) -> HttpResponse:
    msg = Message()
    for key, value in (headers or {}).items():
        msg[key] = value
    return HttpResponse(status, msg, body, URL)


class Scripted:
    """A client whose answers are given in advance, recording what it was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []

    def request(self, method, url, headers=None, timeout=None):
        assert method == "GET"
        self.sent.append({"url": url, "headers": dict(headers or {}), "timeout": timeout})
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def fetcher(session, signer=None, **settings):
    slept = []
    f = Fetcher(signer, FetchSettings(**settings), client=session, sleep=lambda d: slept.append(d))
    f.slept = slept
    return f


def far() -> float:
    return time.monotonic() + 60


def test_success_is_one_request():
    session = Scripted(response(200, b"node1"))
    f = fetcher(session)
    assert f.get(URL, "instance-id", True, far()) == b"node1"
    assert f.requests == 1 and f.slept == []


@pytest.mark.parametrize("failure", [
    response(503, b"busy"),
    response(500),
    response(429),
    TransportError("connection refused"),
    TransportError("connection reset"),
    TransportError("no answer within the read timeout"),
])
def test_transient_failures_are_retried_with_backoff(failure):
    session = Scripted(failure, failure, response(200, b"ok"))
    f = fetcher(session)
    assert f.get(URL, "instance-id", True, far()) == b"ok"
    assert f.requests == 3
    assert len(f.slept) == 2 and 0 < f.slept[0] <= f.slept[1] * 2


def test_backoff_grows_and_is_capped():
    delays = [backoff_delay(n) for n in range(1, 12)]
    assert delays[0] < 0.3 and max(delays) <= 8.0
    assert min(backoff_delay(6) for _ in range(50)) >= 4.0  # half is fixed, half jitter


def test_retry_after_is_honoured():
    session = Scripted(response(503, headers={"Retry-After": "3"}), response(200, b"ok"))
    f = fetcher(session)
    f.get(URL, "instance-id", True, far())
    assert f.slept == [3.0]


def test_retries_limit_counts_attempts():
    session = Scripted(*[response(503)] * 3)
    f = fetcher(session, retries=2)
    with pytest.raises(MetadataUnavailable) as info:
        f.get(URL, "instance-id", True, far())
    assert f.requests == 3
    assert "HTTP 503" in str(info.value) and URL in str(info.value) and "retries: 2" in str(info.value)


def test_deadline_stops_retrying_with_a_last_try_at_the_deadline():
    session = Scripted(*[response(502)] * 50)
    f = Fetcher(None, FetchSettings(max_wait=0.6), client=session, sleep=time.sleep)
    started = time.monotonic()
    with pytest.raises(MetadataUnavailable) as info:
        f.get(URL, "instance-id", True, started + 0.6)
    assert 0.5 <= time.monotonic() - started < 0.8
    assert "max_wait" in str(info.value)
    assert 2 < f.requests < 10


def test_single_attempt_when_max_wait_is_zero_keeps_full_timeout():
    session = Scripted(response(503))
    f = fetcher(session, timeout=7, max_wait=0)
    with pytest.raises(MetadataUnavailable):
        f.get(URL, "instance-id", True, None)
    assert session.sent[0]["timeout"] == 7 and f.requests == 1


def test_per_request_timeout_never_exceeds_what_is_left():
    session = Scripted(response(200, b"x"))
    fetcher(session, timeout=10).get(URL, "instance-id", True, time.monotonic() + 2)
    assert session.sent[0]["timeout"] <= 2


def test_required_404_fails_at_once():
    session = Scripted(response(404, b"Unknown metadata attribute"))
    f = fetcher(session)
    with pytest.raises(MetadataNotFound) as info:
        f.get(URL, "instance-id", True, far())
    assert f.requests == 1 and info.value.status == 404 and URL in str(info.value)


def test_optional_404_costs_nothing_extra():
    session = Scripted(response(404))
    f = fetcher(session)
    assert f.get(URL, "public-keys", False, far()) is None
    assert f.requests == 1 and f.slept == []


def test_other_client_errors_are_final():
    f = fetcher(Scripted(response(400, b"Bad request")))
    with pytest.raises(MetadataError, match="HTTP 400"):
        f.get(URL, "instance-id", True, far())


def signer_2h_behind():
    server_now = 1_800_000_000.0
    clock = ServerClock(None, wall=lambda: server_now - 7200, monotonic=lambda: 1.0, boot_id="b")
    return Signer(Credentials("C", "T", SECRET), clock), server_now


def test_skewed_401_is_retried_once_at_once_with_the_servers_time():
    signer, server_now = signer_2h_behind()
    date = {"Date": formatdate(server_now, usegmt=True)}
    session = Scripted(response(401, b"Authorization Error: 'Expired timestamp'", date),
                       response(200, b"node1"))
    f = fetcher(session, signer)
    assert f.get(URL, "instance-id", True, far()) == b"node1"
    assert f.slept == []
    second = session.sent[1]["headers"]["Authorization"]
    assert f'oauth_timestamp="{int(server_now)}"' in second


def test_401_that_skew_cannot_explain_fails_at_once_without_secrets():
    signer, _ = signer_2h_behind()
    refusal = response(401, f"Authorization Error: 'Invalid signature {SECRET}'".encode(),
                       {"Date": formatdate(signer.clock.server_time("x"), usegmt=True)})
    f = fetcher(Scripted(refusal), signer)
    with pytest.raises(MetadataAuthError) as info:
        f.get(URL, "instance-id", True, far())
    message = str(info.value)
    assert f.requests == 1 and "HTTP 401" in message and URL in message
    assert SECRET not in message


def test_skew_retry_happens_only_once():
    signer, server_now = signer_2h_behind()
    date = {"Date": formatdate(server_now, usegmt=True)}
    later = {"Date": formatdate(server_now + 3 * 3600, usegmt=True)}
    session = Scripted(response(401, b"", date), response(401, b"", later))
    f = fetcher(session, signer)
    with pytest.raises(MetadataAuthError):
        f.get(URL, "instance-id", True, far())
    assert f.requests == 2


def test_401_without_date_fails_at_once():
    signer, _ = signer_2h_behind()
    f = fetcher(Scripted(response(401, b"no")), signer)
    with pytest.raises(MetadataAuthError):
        f.get(URL, "instance-id", True, far())
    assert f.requests == 1

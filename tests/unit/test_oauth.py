from urllib.parse import unquote

import pytest

from cloudinit_maaslike.clockskew import ServerClock
from cloudinit_maaslike.errors import ConfigError
from cloudinit_maaslike.oauth import HMAC_SHA1, Credentials, Signer, credentials_from
from cloudinit_maaslike.server.oauthcheck import (
    Refusal,
    TokenSecrets,
    Verifier,
    is_signed,
    parse_authorization,
)

CREDS = Credentials("CKEY", "TKEY", "TSEC")


class Store:
    def __init__(self, *tokens: TokenSecrets):
        self.tokens = {t.token_key: t for t in tokens}

    def by_token(self, key):
        return self.tokens.get(key)

    def has_consumer(self, key):
        return any(t.consumer_key == key for t in self.tokens.values())


def fixed_clock(now: float) -> ServerClock:
    return ServerClock(None, wall=lambda: now, monotonic=lambda: 100.0, boot_id="b")


def test_plaintext_signature_is_the_escaped_secrets():
    header, ts = Signer(CREDS, fixed_clock(1_700_000_000)).sign("http://m/MAAS/metadata/")
    params = parse_authorization(header)
    assert unquote(header.split('oauth_signature="')[1].split('"')[0]) == "&TSEC"
    assert params["oauth_signature_method"] == "PLAINTEXT"
    assert params["oauth_timestamp"] == "1700000000" and ts == 1_700_000_000
    assert is_signed(params)


def test_each_signature_has_a_fresh_nonce():
    signer = Signer(CREDS, fixed_clock(1_700_000_000))
    nonces = {parse_authorization(signer.sign("http://m/x")[0])["oauth_nonce"] for _ in range(5)}
    assert len(nonces) == 5


def test_empty_consumer_secret_is_allowed_and_used():
    creds = Credentials("C", "T", "S", consumer_secret="c&s")
    header, _ = Signer(creds, fixed_clock(1)).sign("http://m/")
    assert parse_authorization(header)["oauth_signature"] == "c%26s&S"


def test_hmac_sha1_verifies_with_the_servers_check():
    now = 1_700_000_000
    signer = Signer(CREDS, fixed_clock(now), method=HMAC_SHA1)
    url = "http://m:5248/MAAS/metadata/2012-03-01/meta-data/instance-id?x=1"
    header, _ = signer.sign(url)
    verifier = Verifier(Store(TokenSecrets("CKEY", "TKEY", "TSEC", owner="n1")), clock=lambda: now)
    token = verifier.verify(parse_authorization(header), "GET", url, query="x=1")
    assert token.owner == "n1"
    tampered = url.replace("instance-id", "local-hostname")
    header, _ = signer.sign(url)
    with pytest.raises(Refusal, match="Invalid signature"):
        verifier.verify(parse_authorization(header), "GET", tampered, query="x=1")


def test_identity_matches_cloud_inits_maas_datasource():
    # cloud-init's test_maas pins v1:403ee5f1…0392 for CKEY/TKEY/TSEC.
    identity = CREDS.identity()
    assert identity.startswith("v1:403ee5f1") and identity.endswith("0392")
    assert Credentials("CKEY", "TKEY", "other").identity() != identity


def test_secrets_do_not_show_in_repr():
    text = repr(Credentials("C", "T", "supersecret", consumer_secret="alsosecret"))
    assert "supersecret" not in text and "alsosecret" not in text


def test_credentials_from_none_set_is_none():
    assert credentials_from({"metadata_url": "http://x"}, "datasource.MAAS") is None


def test_partial_credentials_name_the_missing_key():
    with pytest.raises(ConfigError) as info:
        credentials_from({"consumer_key": "C", "token_key": "T"}, "datasource.MAAS")
    assert info.value.path == "datasource.MAAS.token_secret"
    assert "token_secret" in str(info.value)


def test_consumer_secret_alone_is_refused():
    with pytest.raises(ConfigError) as info:
        credentials_from({"consumer_secret": "x"}, "ds")
    assert info.value.path == "ds.consumer_secret"


def test_unknown_signature_method_refused():
    with pytest.raises(ConfigError):
        Signer(CREDS, method="RSA-SHA1")

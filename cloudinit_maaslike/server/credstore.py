"""Per-node OAuth credentials, generated once and kept across restarts.

Like MAAS, each node has its own consumer and token (the consumer secret is
empty) and a token is good only for its own node.  They live in
``<state-dir>/credentials.json``, mode 0600.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from typing import Dict, Iterable, Optional, Tuple

from ..errors import ConfigError
from ..privatefile import write_private
from .oauthcheck import TokenSecrets

_ALPHABET = string.ascii_letters + string.digits


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class CredentialStore:
    """system_id -> TokenSecrets, persisted in the state directory."""

    FILENAME = "credentials.json"

    def __init__(self, state_dir: str, system_ids: Iterable[str]):
        self.path = os.path.join(state_dir, self.FILENAME)
        self._by_node: Dict[str, TokenSecrets] = {}
        stored = self._load()
        changed = False
        for system_id in system_ids:
            entry = stored.get(system_id)
            if entry is None:
                entry = {
                    "consumer_key": _random(18),
                    "token_key": _random(18),
                    "token_secret": _random(32),
                }
                stored[system_id] = entry
                changed = True
            self._by_node[system_id] = TokenSecrets(
                consumer_key=entry["consumer_key"],
                token_key=entry["token_key"],
                token_secret=entry["token_secret"],
                owner=system_id,
            )
        if changed or not os.path.exists(self.path):
            write_private(self.path, json.dumps(stored, indent=1, sort_keys=True))
        self._by_token = {t.token_key: t for t in self._by_node.values()}
        self._consumers = {t.consumer_key for t in self._by_node.values()}

    def _load(self) -> Dict[str, Dict[str, str]]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError("state-dir", f"cannot read {self.path}: {exc}") from None
        except RecursionError:
            raise ConfigError("state-dir", f"cannot read {self.path}: it nests too deeply") from None
        if not isinstance(data, dict):
            raise ConfigError("state-dir", f"{self.path} is not a JSON object")
        return data

    def for_node(self, system_id: str) -> TokenSecrets:
        return self._by_node[system_id]

    def by_token(self, token_key: str) -> Optional[TokenSecrets]:
        return self._by_token.get(token_key)

    def has_consumer(self, consumer_key: str) -> bool:
        return consumer_key in self._consumers

    def all_secrets(self) -> Tuple[str, ...]:
        return tuple(t.token_secret for t in self._by_node.values())

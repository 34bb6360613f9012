"""A JWT issuer for tests: a JWKS file with one RSA key, and tokens signed with it."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "images"
ISSUER = "https://issuer"


@dataclasses.dataclass
class Issuer:
    """A JWKS file and a way to sign tokens with its key."""

    jwks_file: Path
    private_key: rsa.RSAPrivateKey

    @classmethod
    def in_folder(cls, folder: Path) -> Issuer:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        jwks = folder / "jwks.json"
        jwks.write_text(
            json.dumps({"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]})
        )
        return cls(jwks, key)

    def token(self, **claims: Any) -> str:
        body = {"sub": "alice", "aud": AUDIENCE, "iss": ISSUER, **claims}
        body.setdefault("exp", int(time.time()) + 60)
        return jwt.encode(body, self.private_key, algorithm="RS256", headers={"kid": "k1"})

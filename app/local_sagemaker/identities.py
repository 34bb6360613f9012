"""Who is calling: the account of an access key, and the temporary credentials STS hands out.

A long-term access key belongs to the account the endpoint's options map it to, or to
:data:`~.targets.DEFAULT_ACCOUNT`, so that any key works as it always has. ``AssumeRole`` mints
temporary credentials (an ``ASIA...`` key, a secret and a session token) that belong to the role's
account until they expire; a call made with them must carry their session token, as AWS requires,
and, when signatures are checked, is verified with their secret like any other key's.
"""

from __future__ import annotations

import secrets as randomness
import string
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request

from app.local_sagemaker import signatures
from app.local_sagemaker.protocol import AwsError
from app.local_sagemaker.signatures import Credential
from app.local_sagemaker.targets import DEFAULT_ACCOUNT

_KEY_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Caller:
    """The principal behind a request, as GetCallerIdentity names it."""

    access_key: str
    account: str
    arn: str
    user_id: str


@dataclass(frozen=True)
class TemporaryCredentials:
    """What AssumeRole returns, and what the endpoint keeps to recognise them."""

    access_key: str
    secret: str
    session_token: str
    expires: float
    caller: Caller


class Identities:
    """Access keys' accounts and secrets, plus the temporary credentials minted so far.
    Thread-safe: AssumeRole and the calls made with its credentials may run at once."""

    def __init__(
        self,
        accounts: Mapping[str, str],
        secrets: Mapping[str, str] | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._accounts = dict(accounts)
        self._secrets = None if secrets is None else dict(secrets)
        self._clock = clock
        self._lock = threading.Lock()
        self._temporary: dict[str, TemporaryCredentials] = {}

    @property
    def checks_signatures(self) -> bool:
        return self._secrets is not None

    def authenticate(self, request: Request, body: bytes, credential: Credential) -> Caller:
        """The caller of a request whose credential scope the endpoint serves: with secrets, once
        its signature proves it holds the key's secret; AWS's 403 when it does not."""
        with self._lock:
            temporary = self._temporary.get(credential.access_key)
        secret: str | None
        if temporary is not None:
            self._check_session(request, temporary)
            caller, secret = temporary.caller, temporary.secret
        else:
            caller = self._long_term(credential.access_key)
            secret = None if self._secrets is None else self._secrets.get(caller.access_key)
        if self._secrets is not None:
            if secret is None:
                raise invalid_token()
            signatures.check(request, body, credential, secret)
        return caller

    def assume_role(
        self, role_arn: str, account: str, session_name: str, duration: int
    ) -> TemporaryCredentials:
        """New temporary credentials for ``session_name`` in the role of ``role_arn``."""
        role_name = role_arn.rsplit("/", 1)[1]
        role_id = "AROA" + _random_key(17)
        access_key = "ASIA" + _random_key(16)
        now = self._clock()
        credentials = TemporaryCredentials(
            access_key=access_key,
            secret=randomness.token_urlsafe(30),
            session_token=randomness.token_urlsafe(96),
            expires=now + duration,
            caller=Caller(
                access_key=access_key,
                account=account,
                arn=f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}",
                user_id=f"{role_id}:{session_name}",
            ),
        )
        with self._lock:
            # Expired credentials are dropped as new ones come, so a long run does not pile up.
            self._temporary = {
                key: kept for key, kept in self._temporary.items() if kept.expires > now
            }
            self._temporary[access_key] = credentials
        return credentials

    def _long_term(self, access_key: str) -> Caller:
        account = self._accounts.get(access_key, DEFAULT_ACCOUNT)
        # A long-term key answers as its account's root user: the endpoint knows no IAM users.
        return Caller(access_key, account, f"arn:aws:iam::{account}:root", account)

    def _check_session(self, request: Request, temporary: TemporaryCredentials) -> None:
        token = request.headers.get("x-amz-security-token", "")
        if not randomness.compare_digest(token.encode(), temporary.session_token.encode()):
            raise invalid_token()
        if self._clock() >= temporary.expires:
            raise AwsError(
                "ExpiredTokenException",
                "The security token included in the request is expired",
                status=403,
            )


def invalid_token() -> AwsError:
    return AwsError(
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        status=403,
    )


def _random_key(length: int) -> str:
    return "".join(randomness.choice(_KEY_ALPHABET) for _ in range(length))

"""Where a lookup goes: the regions and accounts the service serves, and how it reaches each.

SageMaker images are regional and belong to an account, and an ARN names both (with the
partition: ``aws``, ``aws-cn``, ``aws-us-gov``...). A :class:`Target` is that triple; every key
carries the one it is looked up in, so the loaders, the caches and the client keep targets apart
without being told. A :class:`TargetSpec` is one entry of ``SMGQL_TARGETS_FILE``: a region, an
account, and how the service gets credentials for it (a profile, a role to assume, or the default
chain). :class:`ServedTargets` answers the schema's questions: which target do these arguments
or this ARN name, and is it one this service serves? A target it does not serve is refused with
:class:`NotServed` before any call is made.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.session
import regex
from botocore.exceptions import UnknownRegionError

from app.sagemaker.errors import InvalidInput, shown

_REGION = regex.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_ACCOUNT = regex.compile(r"\d{12}")
_ROLE_ARN = regex.compile(r"arn:aws(?:-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
# STS's own rules for AssumeRole's ExternalId and RoleSessionName.
_EXTERNAL_ID = regex.compile(r"[\w+=,.@:/-]{2,1224}")
_SESSION_NAME = regex.compile(r"[\w+=,.@-]{2,64}")
_ARN = regex.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
)
_SPEC_MEMBERS = frozenset(
    ("region", "account", "profile", "role_arn", "external_id", "session_name")
)


@functools.cache
def partition_of(region: str) -> str:
    """The partition a region belongs to, as botocore's endpoint data says (by its patterns,
    so a region newer than botocore's data still has one). Only for configured regions: the
    answers are kept for good."""
    partition: str = botocore.session.get_session().get_partition_for_region(region)
    return partition


@dataclass(frozen=True)
class Target:
    """One partition, region and account: where a lookup is sent, and what its ARNs name."""

    partition: str
    region: str
    account: str

    @classmethod
    def of(cls, region: str, account: str) -> Target:
        return cls(partition_of(region), region, account)

    def __str__(self) -> str:
        return f"{self.region}/{self.account}"


def target_of_arn(arn: str) -> Target | None:
    """The target a SageMaker ARN names; None when it is not a SageMaker ARN."""
    match = _ARN.match(arn)
    if match is None:
        return None
    return Target(match["partition"], match["region"], match["account"])


@dataclass(frozen=True)
class TargetSpec:
    """One target the service serves, and how it gets credentials for it: a named profile,
    a role assumed from the default chain's credentials, or (neither) the default chain."""

    region: str
    # None only for the one target of a service without a targets file: the account STS
    # reports for the default chain's credentials, learnt at start.
    account: str | None
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    session_name: str | None = None

    def as_entry(self) -> dict[str, str]:
        """The spec as an entry of a targets file."""
        members = {
            "region": self.region,
            "account": self.account,
            "profile": self.profile,
            "role_arn": self.role_arn,
            "external_id": self.external_id,
            "session_name": self.session_name,
        }
        return {member: value for member, value in members.items() if value is not None}

    @property
    def credentials(self) -> str:
        """How the target's credentials are had, in words for a log line."""
        if self.profile is not None:
            return f"profile {self.profile}"
        if self.role_arn is not None:
            return f"role {self.role_arn}"
        return "the default credential chain"


def read_target_specs(entries: Any) -> tuple[TargetSpec, ...]:
    """The targets a targets file lists (its parsed JSON), checked: a non-empty list of
    objects, each with a valid region and account, at most one of ``profile`` and
    ``role_arn``, ``external_id`` and ``session_name`` only with a role, and no (region,
    account) twice. Raises ValueError naming each entry at fault."""
    if not isinstance(entries, list) or not entries:
        raise ValueError("expected a non-empty JSON list of targets")
    specs: list[TargetSpec] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(entries):
        try:
            spec = _spec(entry)
        except ValueError as error:
            problems.append(f"entry {index}: {error}")
            continue
        assert spec.account is not None
        place = (spec.region, spec.account)
        if place in seen:
            problems.append(
                f"entry {index}: {spec.region}/{spec.account} repeats entry {seen[place]}"
            )
        seen.setdefault(place, index)
        specs.append(spec)
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(specs)


def _spec(entry: Any) -> TargetSpec:
    if not isinstance(entry, dict):
        raise ValueError("expected an object with region and account")
    unknown = sorted(set(entry) - _SPEC_MEMBERS)
    if unknown:
        raise ValueError(f"unknown member {shown(str(unknown[0]))!r}")
    values: dict[str, str | None] = {}
    for member in _SPEC_MEMBERS:
        value = entry.get(member)
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"{member} must be a non-empty string")
        values[member] = value
    region, account = values["region"], values["account"]
    if region is None or account is None:
        raise ValueError("region and account are both needed")
    if not _REGION.fullmatch(region):
        raise ValueError(f"region {shown(region)!r} is not a region such as eu-west-1")
    try:
        partition_of(region)
    except UnknownRegionError:
        raise ValueError(f"region {region!r} is in no partition botocore knows") from None
    if not _ACCOUNT.fullmatch(account):
        raise ValueError(f"account {shown(account)!r} is not a 12-digit account id")
    role_arn = values["role_arn"]
    if values["profile"] is not None and role_arn is not None:
        raise ValueError("give profile or role_arn, not both")
    if role_arn is not None and not _ROLE_ARN.fullmatch(role_arn):
        raise ValueError(
            f"role_arn {shown(role_arn)!r} is not a role ARN such as "
            "arn:aws:iam::111111111111:role/ImageReader"
        )
    for member, rule in (("external_id", _EXTERNAL_ID), ("session_name", _SESSION_NAME)):
        value = values[member]
        if value is None:
            continue
        if role_arn is None:
            raise ValueError(f"{member} needs a role_arn")
        if not rule.fullmatch(value):
            raise ValueError(f"{member} {shown(value)!r} is not valid for STS AssumeRole")
    return TargetSpec(
        region=region,
        account=account,
        profile=values["profile"],
        role_arn=role_arn,
        external_id=values["external_id"],
        session_name=values["session_name"],
    )


class NotServed(InvalidInput):
    """A lookup names a region and account this service does not serve: refused before any
    call, since SageMaker here could only answer for another resource, or not at all."""

    def __init__(
        self,
        asked: str,
        region: str,
        account: str,
        served: Iterable[Target],
        value: object = None,
    ) -> None:
        # A client's words, repeated: cut to a short prefix.
        self.region, self.account = shown(region), shown(account)
        listed = ", ".join(str(each) for each in served)
        super().__init__(
            f"names region {self.region} and account {self.account}, which this service "
            f"does not serve (it serves {listed}).",
            field=asked,
            value=value,
        )


class ServedTargets:
    """The targets this service serves; the first is the default, which a lookup that names
    no region or account goes to."""

    def __init__(self, targets: Sequence[Target]) -> None:
        if not targets:
            raise ValueError("a service serves at least one target")
        self.all = tuple(targets)
        self.default = self.all[0]
        self._served = frozenset(self.all)
        # A client's region and account are looked up, never parsed: any string may come.
        self._by_place = {(target.region, target.account): target for target in self.all}

    def __contains__(self, target: object) -> bool:
        return target in self._served

    def named(self, region: str | None, account: str | None) -> Target:
        """The target of a lookup's ``region`` and ``account`` arguments (the default's where
        one is omitted)."""
        default = self.default
        if region is None and account is None:
            return default
        place = (
            default.region if region is None else region,
            default.account if account is None else account,
        )
        target = self._by_place.get(place)
        if target is None:
            raise NotServed("region" if region is not None else "account", *place, self.all)
        return target

    def of_arn(self, arn: str, asked: str) -> Target:
        """The target an ARN (argument ``asked``) names, if this service serves it."""
        target = target_of_arn(arn)
        if target is None:
            raise InvalidInput(f"{shown(arn)!r} is not a SageMaker ARN.", field=asked, value=arn)
        return self.check(target, asked, arn)

    def check(self, target: Target, asked: str, value: object = None) -> Target:
        """``target`` if served; else NotServed, naming the argument ``asked`` and its
        ``value``."""
        if target not in self._served:
            raise NotServed(asked, target.region, target.account, self.all, value)
        return target

    def listed(self, regions: Sequence[str] | None, accounts: Sequence[str] | None) -> list[Target]:
        """The targets a listing across regions and accounts names: every served target in
        ``regions`` and ``accounts`` (either omitted: any); both omitted, the default. A region
        or account that no served target has is refused."""
        if regions is None and accounts is None:
            return [self.default]
        for asked, values, served in (
            ("regions", regions, {target.region for target in self.all}),
            ("accounts", accounts, {target.account for target in self.all}),
        ):
            for value in values or ():
                if value not in served:
                    raise InvalidInput(
                        f"names {shown(value)!r}, which no target of this service has "
                        f"(it serves {', '.join(str(target) for target in self.all)}).",
                        field=asked,
                        value=value,
                    )
        return [
            target
            for target in self.all
            if (regions is None or target.region in regions)
            and (accounts is None or target.account in accounts)
        ]

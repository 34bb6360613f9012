"""The trusted-documents manifest is checked at start: a manifest that is not one, a document
that does not parse, or an id that is a digest of some other text fails the start with a
message naming the entry; GraphiQL is off beside it unless kept by name."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from app.assembly.settings import Settings, SettingsError
from app.web.persisted_queries import DocumentNotTrusted, TrustedDocuments

TEXT = "query Hello { __typename }"


def _hex(algorithm: str, text: str = TEXT) -> str:
    return hashlib.new(algorithm, text.encode()).hexdigest()


@pytest.mark.parametrize(
    "document_id",
    [
        f"sha256:{_hex('sha256')}",  # graphql-codegen's client preset
        _hex("md5"),  # relay-compiler's default
        _hex("sha1"),
        _hex("sha256").upper(),
        "hello-v1",  # an id that is no digest: the manifest's own name
    ],
)
def test_the_manifests_codegen_and_relay_write_are_read(document_id: str) -> None:
    documents = TrustedDocuments.read({document_id: TEXT})
    assert documents.document_for(None, None, document_id) == (TEXT, document_id)
    assert documents.document_for(TEXT, None, None) == (TEXT, None)


def test_a_digest_id_is_found_with_or_without_its_prefix() -> None:
    documents = TrustedDocuments.read({f"sha256:{_hex('sha256')}": TEXT})
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": _hex("sha256")}}
    assert documents.document_for(None, persisted, None)[0] == TEXT


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        ([TEXT], "expected a JSON object of document ids to document texts"),
        ({}, "expected a JSON object of document ids to document texts"),
        ({_hex("sha256"): 7}, f"the entry '{_hex('sha256')}': its document must be a string"),
        ({"hello": "query {"}, "the entry 'hello': its document does not parse"),
        ({_hex("md5"): TEXT + " "}, f"the entry '{_hex('md5')}': its id is not the MD5"),
        ({f"sha256:{'0' * 64}": TEXT}, f"the entry 'sha256:{'0' * 64}': its id is not the SHA256"),
    ],
    ids=["a list", "empty", "not a string", "unparsable", "wrong md5", "wrong sha256"],
)
def test_a_bad_manifest_fails_the_start_naming_the_entry(
    tmp_path: Path, manifest: object, problem: str
) -> None:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps(manifest))
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"SMGQL_TRUSTED_DOCUMENTS": str(path)})
    assert f"SMGQL_TRUSTED_DOCUMENTS: {problem}" in str(raised.value)


def test_a_manifest_that_is_not_json_fails_the_start(tmp_path: Path) -> None:
    path = tmp_path / "persisted-documents.json"
    path.write_text("{")
    with pytest.raises(SettingsError, match="SMGQL_TRUSTED_DOCUMENTS is not JSON"):
        Settings.from_env({"SMGQL_TRUSTED_DOCUMENTS": str(path)})


def test_graphiql_is_off_beside_trusted_documents_unless_set_to_true(tmp_path: Path) -> None:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({_hex("sha256"): TEXT}))
    assert Settings.from_env({}).graphiql_served
    assert not Settings.from_env({"SMGQL_GRAPHIQL": "false"}).graphiql_served
    trusted = {"SMGQL_TRUSTED_DOCUMENTS": str(path)}
    assert not Settings.from_env(trusted).graphiql_served
    assert Settings.from_env({**trusted, "SMGQL_GRAPHIQL": "true"}).graphiql_served


def test_a_text_differing_by_a_space_is_not_the_listed_one() -> None:
    documents = TrustedDocuments.read({_hex("sha256"): TEXT})
    with pytest.raises(DocumentNotTrusted):
        documents.document_for(TEXT + " ", None, None)

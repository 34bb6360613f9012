"""relay-compiler (pinned in tests/relay/package-lock.json) compiles a Relay app's operations
against the checked-in ``schema.graphql``: ``@refetchable`` fragments on ``Image`` and
``ImageVersion`` (which need ``Node`` and ``Query.node``) and ``@connection`` on
``Image.versions`` (which needs a spec-compliant connection)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT, assert_node_packages_are_the_locked_ones

HERE = Path(__file__).parent


def test_the_installed_node_packages_are_the_pinned_ones() -> None:
    assert_node_packages_are_the_locked_ones(HERE)


def test_refetchable_fragments_and_a_connection_compile(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed for the Relay tests (scripts/bootstrap --test)"
    compiler = HERE / "node_modules" / "relay-compiler" / "cli.js"
    assert compiler.is_file(), "run scripts/bootstrap --test: it installs tests/relay"
    artifacts = tmp_path / "__generated__"
    artifacts.mkdir()
    config = tmp_path / "relay.config.json"
    config.write_text(
        json.dumps(
            {
                "src": str(HERE / "src"),
                "schema": str(ROOT / "schema.graphql"),
                "language": "javascript",
                "artifactDirectory": str(artifacts),
            }
        )
    )

    result = subprocess.run(
        [node, str(compiler), str(config)],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    generated = {path.name: path.read_text() for path in artifacts.iterdir()}
    assert set(generated) == {
        "ImageVersionsImagesQuery.graphql.js",
        "ImageVersions_image.graphql.js",
        "ImageVersions_version.graphql.js",
        "ImageVersionsPaginationQuery.graphql.js",
        "ImageVersionRefetchQuery.graphql.js",
    }
    # The refetch queries go through Query.node, by the fragment's id.
    for query in ("ImageVersionsPaginationQuery", "ImageVersionRefetchQuery"):
        assert "node(id: $id)" in generated[f"{query}.graphql.js"], query
    # The connection pages Image.versions forward, with the cursor and pageInfo Relay adds.
    image = generated["ImageVersions_image.graphql.js"]
    assert '"__ImageVersions_versions_connection"' in image
    for field in ('"endCursor"', '"hasNextPage"', '"cursor"'):
        assert field in image, field

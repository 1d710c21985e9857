"""Errors read as kubectl's do, and never as a traceback."""

from __future__ import annotations

import pytest
from skiff_cli.main import describe, main
from skiff_common.errors import FieldError, Invalid, NotFound


def test_server_errors_use_kubectls_wording() -> None:
    assert describe(NotFound('pods "x" not found')) == 'Error from server (NotFound): pods "x" not found'
    one = Invalid('Pod "web" is invalid', [FieldError("spec.containers[0].image", "Required value")])
    assert describe(one) == 'The Pod "web" is invalid: spec.containers[0].image: Required value'
    two = Invalid('Pod "web" is invalid', [FieldError("a", "Required value"), FieldError("b", "Invalid value")])
    assert describe(two) == 'The Pod "web" is invalid:\n* a: Required value\n* b: Invalid value'


def test_unknown_resource_type_is_a_client_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["get", "foos"])
    assert exit_info.value.code == 'error: the server doesn\'t have a resource type "foos"'


def test_a_manifest_with_a_mistyped_field_names_it(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec:\n  containers: [{name: c, image: busybox, imagePullPolcy: Always, ports: [{containerPort: x}]}]\n"
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["apply", "-f", str(manifest)])
    text = str(exit_info.value.code)
    assert text.startswith(f'error: error validating "{manifest}": ')
    assert "* spec.containers[0].imagePullPolcy: unknown field" in text
    assert "* spec.containers[0].ports[0].containerPort: Invalid value" in text

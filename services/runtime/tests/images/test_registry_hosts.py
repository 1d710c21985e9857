"""hosts.toml parsing (containerd's registry hosts configuration) and the default endpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
from skiff_runtime.images.hosts import HostsConfigError, RegistryHost, parse_hosts_toml, resolve_hosts


@pytest.mark.parametrize(
    "domain,insecure,api_root",
    [
        ("docker.io", [], "https://registry-1.docker.io/v2"),
        ("docker.io", ["docker.io"], "https://registry-1.docker.io/v2"),  # Docker Hub is never plain HTTP
        ("quay.io", [], "https://quay.io/v2"),
        ("localhost:5000", ["localhost:5000"], "http://localhost:5000/v2"),
        ("127.0.0.1:5000", ["localhost:5000"], "https://127.0.0.1:5000/v2"),
    ],
)
def test_defaults_without_config(domain: str, insecure: list[str], api_root: str) -> None:
    assert resolve_hosts(domain, None, insecure) == [RegistryHost(api_root=api_root)]


def test_mirrors_first_then_server(tmp_path: Path) -> None:
    (tmp_path / "docker.io").mkdir()
    (tmp_path / "docker.io" / "hosts.toml").write_text(
        'server = "https://registry-1.docker.io"\n'
        '[host."http://127.0.0.1:5000"]\n  capabilities = ["pull", "resolve"]\n'
        '[host."https://mirror.example/prefix/v2/"]\n  capabilities = ["pull"]\n  override_path = true\n'
        '  skip_verify = true\n  ca = "/ca.pem"\n  [host."https://mirror.example/prefix/v2/".header]\n'
        '    x-a = "1"\n    x-b = ["2", "3"]\n'
    )
    hosts = resolve_hosts("docker.io", tmp_path, [])
    assert [h.api_root for h in hosts] == [
        "http://127.0.0.1:5000/v2",
        "https://mirror.example/prefix/v2",
        "https://registry-1.docker.io/v2",
    ]
    assert hosts[0].plain_http and hosts[0].can("resolve") and not hosts[0].can("push")
    assert not hosts[1].can("resolve") and hosts[1].skip_verify and hosts[1].ca == ("/ca.pem",)
    assert hosts[1].headers == (("x-a", "1"), ("x-b", "2"), ("x-b", "3"))
    assert hosts[2].capabilities == {"pull", "resolve", "push"}
    # other registries fall back to _default, then to the built-in default
    assert resolve_hosts("quay.io", tmp_path, []) == [RegistryHost(api_root="https://quay.io/v2")]
    (tmp_path / "_default").mkdir()
    (tmp_path / "_default" / "hosts.toml").write_text("skip_verify = true\n")
    assert resolve_hosts("quay.io", tmp_path, []) == [RegistryHost(api_root="https://quay.io/v2", skip_verify=True)]


def test_insecure_flag_applies_to_the_default_server_of_a_file() -> None:
    hosts = parse_hosts_toml('[host."https://m.example"]\n', "10.0.0.1:5000", insecure=True)
    assert [h.api_root for h in hosts] == ["https://m.example/v2", "http://10.0.0.1:5000/v2"]


@pytest.mark.parametrize(
    "text,message",
    [
        ("server = ", "not valid TOML"),
        ('server = "ftp://x"', "server: 'ftp://x' is not an http:// or https:// URL"),
        ("server = 5", "server: must be a URL string"),
        ("mirrors = []", "unknown field(s) mirrors"),
        ('[host."http://m"]\ncapabilities = ["pull", "fetch"]', "unknown capability fetch"),
        ('[host."http://m"]\ncapabilities = "pull"', "capabilities: must be a list of strings"),
        ('[host."http://m"]\nskip_verify = "yes"', "skip_verify: must be true or false"),
        ('[host."http://m"]\nca = 3', "ca: must be a path or a list of paths"),
        ('[host."http://m"]\nclient = "/c.pem"', "client certificates are not supported"),
        ('[host."http://m"]\nbogus = 1', "unknown field(s) bogus"),
        ('[host."m:5000"]', "'m:5000' is not an http:// or https:// URL"),
        ('host = "x"', "host entries must be tables"),
    ],
)
def test_bad_config_names_the_field(text: str, message: str) -> None:
    with pytest.raises(HostsConfigError) as err:
        parse_hosts_toml(text, "docker.io", where="/etc/skiff/certs.d/docker.io/hosts.toml")
    assert message in str(err.value)
    assert str(err.value).startswith("/etc/skiff/certs.d/docker.io/hosts.toml")

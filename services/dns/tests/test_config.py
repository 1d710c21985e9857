"""Bad settings end skiff-dns with one line naming the setting (exit 2), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from skiff_dns.forward import read_nameservers
from skiff_dns.main import main


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--listen=nohost"], "listen"),
        (["--ttl=-1"], "ttl"),
        (["--cache-entries=-5"], "cache_entries"),
        (["--cluster-domain=a..b"], "cluster_domain"),
        (["--upstream-port=70000"], "upstream_port"),
        (["--pods=verified"], "pods"),
    ],
)
def test_bad_settings_exit_2_naming_the_setting(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert named.replace("_", "-") in err or named in err
    assert "Traceback" not in err


def test_resolv_conf_nameservers_in_order(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text(
        "search example\nnameserver 127.0.0.1\nnameserver not-an-ip\n# nameserver 10.0.0.1\nnameserver ::1\n"
    )
    assert read_nameservers(str(path)) == ["127.0.0.1", "::1"]
    assert read_nameservers(str(tmp_path / "missing")) == []
    assert read_nameservers("") == []

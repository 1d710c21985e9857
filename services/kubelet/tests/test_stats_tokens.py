"""The stats port's token authentication as pure logic: TokenReview answers cached for their TTLs
(refusals shorter), keyed by a digest so the token is never kept, failures never cached; the open
health paths. The reviewer is a fake (pure logic); test_stats_auth.py uses a real apiserver."""

from __future__ import annotations

from typing import Any

import pytest
from skiff.api.authentication.v1 import authentication_pb2 as an
from skiff_common import errors
from skiff_kubelet.stats.auth import TokenAuthenticator, is_open


class Reviewer:
    def __init__(self, users: dict[str, tuple[str, list[str]]]) -> None:
        self.users, self.calls, self.fail = users, 0, False

    async def create(self, review: Any) -> an.TokenReview:
        self.calls += 1
        if self.fail:
            raise errors.Unavailable("apiserver gone")
        out = an.TokenReview()
        found = self.users.get(review.spec.token)
        if found is not None:
            out.status.authenticated = True
            out.status.user.username = found[0]
            out.status.user.groups.extend(found[1])
        return out


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_answers_are_cached_for_their_ttls() -> None:
    reviewer, clock = Reviewer({"good": ("system:serviceaccount:monitoring:prom", ["system:serviceaccounts"])}), Clock()
    tokens = TokenAuthenticator(reviewer, ttl=120, denied_ttl=10, clock=clock)
    assert await tokens.authenticate("good") == ("system:serviceaccount:monitoring:prom", ("system:serviceaccounts",))
    assert await tokens.authenticate("bad") is None
    clock.now = 9
    await tokens.authenticate("good")
    await tokens.authenticate("bad")
    assert reviewer.calls == 2  # both cached
    clock.now = 11
    await tokens.authenticate("bad")
    await tokens.authenticate("good")
    assert reviewer.calls == 3  # the refusal expired, the success not
    clock.now = 121
    await tokens.authenticate("good")
    assert reviewer.calls == 4
    assert all("good" not in key and "bad" not in key for key in tokens._cache)  # digests only


async def test_a_failed_review_is_not_cached() -> None:
    reviewer = Reviewer({"good": ("u", [])})
    tokens = TokenAuthenticator(reviewer, clock=Clock())
    reviewer.fail = True
    with pytest.raises(errors.Unavailable):
        await tokens.authenticate("good")
    reviewer.fail = False
    assert await tokens.authenticate("good") == ("u", ())


@pytest.mark.parametrize(
    ("path", "open_"),
    [
        ("/healthz", True),
        ("/livez/ping", True),
        ("/readyz", True),
        ("/healthzfoo", False),
        ("/metrics", False),
        ("/stats/summary", False),
    ],
)
def test_only_health_paths_are_open(path: str, open_: bool) -> None:
    assert is_open(path) is open_

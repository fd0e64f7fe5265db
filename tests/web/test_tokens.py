"""The REST API's bearer tokens: whose a token is, until its lifetime or an idle time ends it."""

from __future__ import annotations

import time

import pytest

from plantqc.web.tokens import TokenRefused, TokenStore


def test_a_token_names_its_user() -> None:
    store = TokenStore()
    token = store.issue("operator.a")
    assert store.user_of(token) == "operator.a"


def test_every_token_is_new() -> None:
    store = TokenStore()
    assert store.issue("operator.a") != store.issue("operator.a")


def test_an_unknown_token_is_refused_without_a_user() -> None:
    with pytest.raises(TokenRefused) as refused:
        TokenStore().user_of("not-a-token")
    assert (refused.value.reason, refused.value.user) == ("unknown token", None)


def test_a_token_ends_after_its_lifetime_even_when_used() -> None:
    store = TokenStore(lifetime_s=0.3, idle_s=10.0)
    token = store.issue("operator.a")
    for _ in range(3):
        time.sleep(0.05)
        store.user_of(token)
    time.sleep(0.2)
    with pytest.raises(TokenRefused) as refused:
        store.user_of(token)
    assert (refused.value.reason, refused.value.user) == ("token expired", "operator.a")


def test_a_token_ends_when_idle_and_use_keeps_it_alive() -> None:
    store = TokenStore(lifetime_s=10.0, idle_s=0.2)
    token = store.issue("operator.a")
    for _ in range(3):
        time.sleep(0.1)
        assert store.user_of(token) == "operator.a"
    time.sleep(0.3)
    with pytest.raises(TokenRefused) as refused:
        store.user_of(token)
    assert refused.value.reason == "token idle too long"


def test_an_ended_token_is_forgotten() -> None:
    store = TokenStore(lifetime_s=0.1)
    token = store.issue("operator.a")
    time.sleep(0.2)
    with pytest.raises(TokenRefused):
        store.user_of(token)
    with pytest.raises(TokenRefused) as again:
        store.user_of(token)
    assert again.value.reason == "unknown token"


def test_a_revoked_token_is_unknown() -> None:
    store = TokenStore()
    token = store.issue("operator.a")
    store.revoke(token)
    with pytest.raises(TokenRefused) as refused:
        store.user_of(token)
    assert refused.value.reason == "unknown token"

"""The cast: alice owns the team, bob edits, carol views, mallory is in another team."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.test import Client

from scenarios import snapshot
from scenarios.runtime import presence
from teams.models import Credential, Membership, Role, Team, User

pytest_plugins = ["tests.stub_provider", "tests.asgi_server"]

PASSWORD = "correct horse battery staple"


@dataclass
class Cast:
    team: Team
    other_team: Team
    alice: User
    bob: User
    carol: User
    mallory: User

    def client_for(self, user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client


def make_user(username: str) -> User:
    return User.objects.create_user(username=username, email=f"{username}@example.com", password=PASSWORD)


@pytest.fixture
def cast(db: None) -> Cast:
    alice, bob, carol, mallory = (make_user(n) for n in ("alice", "bob", "carol", "mallory"))
    team = Team.bootstrap(alice, "Alice's team")
    Membership.objects.create(team=team, user=bob, role=Role.EDITOR)
    Membership.objects.create(team=team, user=carol, role=Role.VIEWER)
    other_team = Team.bootstrap(mallory, "Mallory's team")
    return Cast(team=team, other_team=other_team, alice=alice, bob=bob, carol=carol, mallory=mallory)


@pytest.fixture
def alice_client(cast: Cast) -> Client:
    return cast.client_for(cast.alice)


@pytest.fixture
def credential(cast: Cast) -> Credential:
    cred = Credential(team=cast.team, name="Stub provider", base_url="http://127.0.0.1:9/v1")
    cred.set_secret("sk-test-secret-abcd1234")
    cred.save()
    return cred


@pytest.fixture
def stub_credential(cast: Cast, stub_provider) -> Credential:
    """A credential of alice's team pointing at the loopback stub provider."""
    cred = Credential(
        team=cast.team, name="Stub", base_url=stub_provider.base_url, default_model="stub-model"
    )
    cred.set_secret("sk-stub-secret-wxyz9876")
    cred.save()
    return cred


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """The throttle's counts (teams/throttle.py), the watch marks (scenarios/runtime/presence.py)
    and the graphs read (scenarios/snapshot.py) of one test never reach the next."""
    yield
    cache.clear()
    presence.forget()
    snapshot.forget_graphs()


@pytest.fixture(autouse=True)
def _channel_layer_made() -> None:
    """The channel layer made before a test's server threads ask for it, as config/asgi.py makes it
    at start-up (a test that switched layers before leaves none made): threads making it at once
    could each make an in-memory layer of their own."""
    get_channel_layer()


@pytest.fixture(scope="session", autouse=True)
def _close_other_threads_connections(django_db_setup: None) -> Iterator[None]:
    """Threads and async contexts other than the tests' own (the executor's database thread,
    asgiref's sync threads, a live server's requests) keep connections open; close them all before
    the test database is dropped (PostgreSQL refuses to drop a database in use)."""
    yield
    import gc

    from django.db.backends.base.base import BaseDatabaseWrapper

    for wrapper in gc.get_objects():
        # type(), not isinstance(): isinstance() asks for __class__, which evaluates a lazy object
        # (a request's user: a database query) or raises for a dead weakref.proxy.
        # The raw connection: Django's close() refuses to run outside the thread that opened it.
        if issubclass(type(wrapper), BaseDatabaseWrapper) and wrapper.connection is not None:
            wrapper.connection.close()

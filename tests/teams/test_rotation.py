from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from teams import crypto
from teams.models import Credential

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(settings):
    """Sets CREDENTIAL_KEYS and forgets the cached keys; restores both afterwards."""

    def use(*values: str) -> None:
        settings.CREDENTIAL_KEYS = list(values)
        crypto.reset_keys()

    yield use
    crypto.reset_keys()


def reload(credential: Credential) -> Credential:
    return Credential.objects.get(pk=credential.pk)


def test_key_rotation_round_trip(cast, keys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    keys(old)
    credential = Credential(team=cast.team, name="k", base_url="https://api.openai.com/v1")
    credential.set_secret("sk-rotate-me-12345678")
    credential.save()
    before = credential.secret_encrypted

    keys(new, old)  # the new key first: new secrets use it, the old key still decrypts
    assert reload(credential).get_secret() == "sk-rotate-me-12345678"

    out = StringIO()
    call_command("rotate_credentials", stdout=out)
    assert "Re-encrypted 1 credential under the first key." in out.getvalue()
    after = reload(credential).secret_encrypted
    assert after != before

    keys(new)  # the old key can now be dropped
    assert reload(credential).get_secret() == "sk-rotate-me-12345678"
    keys(old)
    assert reload(credential).needs_reentry


def test_rotation_lists_credentials_that_need_reentry_and_fails(cast, keys, credential):
    keys(Fernet.generate_key().decode())
    Credential.objects.create(team=cast.team, name="empty", base_url="https://api.openai.com/v1")
    out = StringIO()
    with pytest.raises(CommandError, match="1 credential needs re-entry"):
        call_command("rotate_credentials", stdout=out)
    assert f"Alice's team / Stub provider ({credential.id})" in out.getvalue()
    assert "sk-test-secret" not in out.getvalue()
    assert reload(credential).secret_encrypted == credential.secret_encrypted

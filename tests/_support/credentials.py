"""A credential provider whose password the test rotates, as an IAM token or a
secrets manager would between connections."""

from __future__ import annotations

from redis.credentials import CredentialProvider


class RotatingPassword(CredentialProvider):
    """Answers ``(user, current password)`` and counts how often it was asked:
    redis-py asks once per new connection."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.asked = 0

    def get_credentials(self) -> tuple[str, str]:
        self.asked += 1
        return self.user, self.password

    async def get_credentials_async(self) -> tuple[str, str]:
        return self.get_credentials()


class NeverAsked(CredentialProvider):
    """Fails the test if anything asks it (memory:// has nothing to log in to)."""

    def get_credentials(self) -> tuple[str, str]:
        raise AssertionError("memory:// asked the credential provider")

    async def get_credentials_async(self) -> tuple[str, str]:
        return self.get_credentials()

"""The rules wired to in-memory collaborators, called as their handlers would call them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from otp_service.handlers.errors import InvalidCode
from otp_service.handlers.fraud import FraudPolicy
from otp_service.handlers.keys import MacKeyring
from otp_service.handlers.messages import NO_AUTOFILL, Autofill
from otp_service.handlers.models import CancelTokenBody, RequestTokenBody, VerifyTokenBody
from otp_service.handlers.sending import request_token
from otp_service.handlers.service import Answer, cancel_token, verify_token
from otp_service.handlers.settings import Policy
from tests.support.fakes import START, FakeKms, FakeProvider, FakeStore, keyring, sender


@dataclass
class Rules:
    """Calls each rule as its handler would, over fakes the test can inspect and move."""

    policy: Policy
    now: int = START
    store: FakeStore = field(default_factory=FakeStore)
    kms: FakeKms = field(default_factory=FakeKms)
    provider: FakeProvider = field(default_factory=FakeProvider)
    email_sender: str | None = "otp@example.com"
    key_id: str = "key-1"
    fraud_guard: FraudPolicy | None = None
    autofill: Autofill = NO_AUTOFILL
    receipts_configuration_set: str | None = None
    request_keys: MacKeyring = field(init=False)
    verify_keys: MacKeyring = field(init=False)

    def __post_init__(self) -> None:
        self.request_keys = keyring(self.kms, self.key_id)
        self.verify_keys = keyring(self.kms, self.key_id)

    def request(
        self,
        user_id: str = "alice",
        destination: str = "+14155550123",
        idempotency_key: str | None = None,
        **fields: str,
    ) -> Answer:
        body = RequestTokenBody.model_validate(
            {"user_id": user_id, "destination": destination, **fields}
        )
        return request_token(
            body,
            idempotency_key,
            now=self.now,
            policy=self.policy,
            brand_name="Acme",
            store=self.store,
            keyring=self.request_keys,
            sender=sender(self.provider, self.email_sender, self.receipts_configuration_set),
            fraud_guard=self.fraud_guard,
            autofill=self.autofill,
        )

    def verify(self, code: str, user_id: str = "alice") -> Answer:
        return verify_token(
            VerifyTokenBody(user_id=user_id, code=code),
            now=self.now,
            policy=self.policy,
            store=self.store,
            keyring=self.verify_keys,
        )

    def cancel(self, user_id: str = "alice") -> Answer:
        return cancel_token(CancelTokenBody(user_id=user_id), now=self.now, store=self.store)

    def rotate(self) -> None:
        """A new MAC key generation, and new containers: verify keeps the retired key."""
        retired = self.key_id
        self.key_id = f"key-{int(retired.removeprefix('key-')) + 1}"
        # Both get the retired key, as the component configures them during a rotation.
        self.request_keys = keyring(self.kms, self.key_id, retired)
        self.verify_keys = keyring(self.kms, self.key_id, retired)

    def last_code(self) -> str:
        assert self.provider.sent, "nothing was sent"
        found = re.search(r"\b(\d{6,10})\b", self.provider.sent[-1][1])
        assert found is not None
        return found.group(1)

    def refuses(self, code: str, user_id: str = "alice") -> bool:
        try:
            self.verify(code, user_id)
        except InvalidCode:
            return True
        return False

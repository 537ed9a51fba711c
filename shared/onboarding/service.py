"""Onboarding's composition root: the portal's services (clock, link signer, TIN vault) plus what onboarding
alone needs — the SES mailer of invitations and verification links, Step Functions (start, stop, the task
token), and the checks wired to live DNS and the VIES registry in AWS or to stubs locally
(`ARCOLLECT_EXTERNAL_CHECKS=stub`, which every verdict then says)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from functools import cache, cached_property
from typing import Any

from shared.data.tables import CustomerRecord, SuppressionRecord
from shared.documents.names import customer_name
from shared.errors import NotFoundError, ValidationError
from shared.onboarding.workflow import Checks, OnboardingRetryLater
from shared.portal.access import issue_portal_link
from shared.portal.service import PortalServices, customer_message, send_raw
from shared.settings import RuntimeSettings, SettingsError

# The dunning feedback handler reads this header back from SES bounce notifications: "onboarding:<customer>".
SEND_KEY_HEADER = "X-Arcollect-Send-Key"
DEFAULT_CLICK_WAIT_S = 3 * 24 * 3600
SES_TRANSIENT_ERRORS = frozenset(
    {"Throttling", "ThrottlingException", "ServiceUnavailable", "TooManyRequestsException"}
)
# Domains the local stub resolver knows (the demo's and the tests' customers): every other domain is
# "not checked" there, never invalid — except DNS_TIMEOUT_DOMAIN, which never answers (to try the
# "retry later" path, as SES's mailbox simulator lets one try a bounce).
DNS_TIMEOUT_DOMAIN = "dns-timeout.example"
STUB_MAIL_DOMAINS = {
    "example.com": ["mx.example.com"],
    "example.org": ["mx.example.org"],
    "example.net": ["mx.example.net"],
    "arcollect.local": ["mx.arcollect.local"],
}


@dataclass
class SesOnboardingMailer:
    settings: RuntimeSettings
    ses: Any

    def _send(
        self, customer: CustomerRecord, address: str, subject: str, text: str, link: str, label: str, now: datetime
    ) -> None:
        seller = self.settings.seller_name or "Accounts receivable"
        message = customer_message(
            self.settings, customer, address, subject.format(seller=seller), now, "onboarding emails"
        )
        message[SEND_KEY_HEADER] = f"onboarding:{customer.customer_id}"
        body = text.format(name=customer_name(customer), seller=seller)
        message.set_content(f"{body}\n\n{link}\n")
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n"))
        message.add_alternative(
            f'{paragraphs}<p><a href="{html.escape(link, quote=True)}">{html.escape(label)}</a></p>', subtype="html"
        )
        try:
            send_raw(self.ses, self.settings, message)
        except self.ses.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in SES_TRANSIENT_ERRORS:  # SES's sending rate or a blip: the workflow or the sweep tries again
                raise OnboardingRetryLater(f"SES answered {code}") from exc
            raise OnboardingRetryLater(f"SES answered {code}") from exc
            raise

    def send_verification(
        self, customer: CustomerRecord, address: str, url: str, reminder: bool, now: datetime
    ) -> None:
        subject = (
            "Reminder: confirm your AP email address for {seller}"
            if reminder
            else "Confirm your AP email address for {seller}"
        )
        text = (
            "Hello {name},\n\nPlease confirm that this is the address where {seller} should send invoices, "
            "statements and reminders: open the link below. Your account becomes active once it is confirmed.\n\n"
            "If you did not expect this, ignore it: nothing changes until the link is opened."
        )
        self._send(customer, address, subject, text, url, "Confirm this address", now)

    def send_invitation(self, customer: CustomerRecord, address: str, url: str, reminder: bool, now: datetime) -> None:
        subject = (
            "Reminder: complete your customer details for {seller}"
            if reminder
            else "Complete your customer details for {seller}"
        )
        text = (
            "Hello {name},\n\n{seller} asks you to confirm your company's master data — legal name, taxpayer "
            "identification number and the accounts payable email address — in the customer portal. It takes "
            "two minutes and keeps invoices and payments reaching the right people."
        )
        self._send(customer, address, subject, text, url, "Open the customer portal", now)


@dataclass
class StepFunctionsExecutions:
    sfn: Any
    state_machine_arn: str | None

    def start(self, name: str, payload: dict[str, Any]) -> str:
        import json

        if not self.state_machine_arn:
            raise SettingsError("ARCOLLECT_ONBOARDING_STATE_MACHINE_ARN is not set: validation cannot start")
        try:
            return str(
                self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload))[
                    "executionArn"
                ]
            )
        except self.sfn.exceptions.ExecutionAlreadyExists:
            return f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"

    def stop(self, execution_arn: str) -> None:
        try:
            self.sfn.stop_execution(executionArn=execution_arn, cause="superseded by a newer master-data revision")
        except Exception:  # already ended or unknown: it would end as superseded anyway
            return

    def succeed(self, task_token: str, output: dict[str, Any]) -> bool:
        import json

        try:
            self.sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        except (
            self.sfn.exceptions.TaskTimedOut,
            self.sfn.exceptions.TaskDoesNotExist,
            self.sfn.exceptions.InvalidToken,
        ):
            return False
        return True


class NotAsked:
    """The local system's tax registry: none is asked from a laptop, and a TIN is never claimed to be matched
    by one (its check stays `format_valid`)."""

    source = "local"

    def check(self, tin_type: str, compact: str, country: str | None) -> Any:
        from shared.onboarding.tin_external import ExternalResult

        return ExternalResult("not_applicable", self.source, "no tax registry is asked under arcollect local")


def is_suppressed(address: str) -> bool:
    try:
        SuppressionRecord.get(address.lower())
    except SuppressionRecord.DoesNotExist:
        return False
    return True


def suppress(address: str, reason: str, customer_id: str | None, now: datetime) -> None:
    SuppressionRecord(address.lower(), reason=reason, customer_id=customer_id, suppressed_at=now).save()


@dataclass
class OnboardingServices(PortalServices):
    @property
    def click_wait_s(self) -> int:
        try:
            return max(1, int(self.settings.onboarding_click_wait_s or DEFAULT_CLICK_WAIT_S))
        except ValueError:
            raise SettingsError("ARCOLLECT_ONBOARDING_CLICK_WAIT_S must be a number of seconds") from None

    @property
    def stubbed(self) -> bool:
        return (self.settings.external_checks or "live") == "stub"

    @cached_property
    def onboarding_mailer(self) -> SesOnboardingMailer:
        return SesOnboardingMailer(self.settings, self.client("ses"))

    @cached_property
    def executions(self) -> StepFunctionsExecutions:
        return StepFunctionsExecutions(self.client("stepfunctions"), self.settings.onboarding_state_machine_arn)

    def invite_through_sweep(self, customer_id: str) -> dict[str, Any]:
        """Have the onboarding sweep function send one invitation now (`{"invite": id}`): what it sent, or its
        refusal as the domain error it was (unknown customer: NotFoundError; otherwise ValidationError)."""
        import json

        if not self.settings.onboarding_sweep_function:
            raise SettingsError("ARCOLLECT_ONBOARDING_SWEEP_FUNCTION is not set: invitations cannot be sent")
        answer = self.client("lambda").invoke(
            FunctionName=self.settings.onboarding_sweep_function, Payload=json.dumps({"invite": customer_id}).encode()
        )
        result: dict[str, Any] = json.loads(answer["Payload"].read() or b"{}")
        if answer.get("FunctionError"):
            raise RuntimeError(f"the onboarding sweep function failed: {result.get('errorType', 'error')}")
        if result.get("error"):
            error = NotFoundError if result.get("code") == NotFoundError.code else ValidationError
            raise error(str(result["error"]))
        return dict(result["invited"])

    def link_for(self, customer_id: str) -> str:
        return issue_portal_link(customer_id, self.clock(), self.signer, self.portal_url, purpose="onboarding").url

    @cached_property
    def resolver(self) -> Any:
        from shared.onboarding import dns_check

        if self.stubbed:
            return dns_check.StubResolver(STUB_MAIL_DOMAINS, timeouts={DNS_TIMEOUT_DOMAIN}, unknown="unchecked")
        return dns_check.DnsPythonResolver()

    @cached_property
    def registry(self) -> Any:
        from shared.onboarding import tin_external

        return NotAsked() if self.stubbed else tin_external.ViesRegistry()

    @cached_property
    def checks(self) -> Checks:
        from shared.onboarding.email_rules import check_ap_email
        from shared.onboarding.phone_rules import normalise_phone
        from shared.onboarding.tin_rules import check_tin

        resolver, registry = self.resolver, self.registry
        return Checks(
            tin=check_tin,
            registry=registry.check,
            email=lambda address: check_ap_email(address, resolver=resolver, suppressed=is_suppressed),
            phone=normalise_phone,
            decrypt=self.vault.decrypt,
        )


@cache
def onboarding_services() -> OnboardingServices:
    from shared.data.binding import bind_tables
    from shared.settings import runtime_settings

    settings = runtime_settings()
    bind_tables(settings.table_prefix, settings.region, settings.endpoint_url)
    return OnboardingServices(settings)

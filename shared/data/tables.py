"""The DynamoDB tables, one PynamoDB model each.

These classes are the single source of truth for keys and indexes: the CDK storage construct and the
local emulator both build their tables from `ALL_TABLES`. Access patterns are documented in
docs/data-model.md. Money is stored as integer minor units (`*_minor`) next to its ISO 4217 currency.
"""

from __future__ import annotations

import zlib
from typing import Any

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

# The daily dunning run reads the sparse next-action index shard by shard, in parallel. 16 shards keep
# each index partition far below DynamoDB's per-partition write limit at a million open invoices.
NEXT_ACTION_SHARDS = 16
OPEN_TASK_SHARDS = 4


def shard_of(key: str, shards: int) -> str:
    """Stable shard name for a key ("s00".."s15"): the same invoice always lands in the same shard."""
    return f"s{zlib.crc32(key.encode()) % shards:02d}"


def string_list(*, null: bool = False) -> ListAttribute[str]:
    """A list of strings. PynamoDB's stubs type `of=` as the element's Python type, not its attribute class."""
    if null:
        return ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[arg-type]
    return ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]


class ArcollectModel(Model):
    """Base for every table: `table_key` is the logical name the stage prefix is added to."""

    table_key = ""

    class Meta:
        abstract = True
        table_name = ""
        region = "us-east-1"
        host: str | None = None  # an emulator's endpoint; None is AWS itself
        billing_mode = "PAY_PER_REQUEST"


# --- customers -----------------------------------------------------------------------------------------


class ContactMap(MapAttribute[str, Any]):
    """A person or mailbox at the customer: the AP department first. Verification is per contact."""

    contact_id = UnicodeAttribute()
    role = UnicodeAttribute(default="ap")  # ap | billing | person
    email = UnicodeAttribute(null=True)  # normalised by email-validator
    phone = UnicodeAttribute(null=True)  # E.164
    email_state = UnicodeAttribute(default="unverified")  # unverified | pending | verified | bounced
    email_warnings = string_list(null=True)
    verified_at = UTCDateTimeAttribute(null=True)


class ApEmailIndex(GlobalSecondaryIndex["CustomerRecord"]):
    """`POST /portal/links {email}` finds the customer whose AP address that is."""

    class Meta:
        index_name = "ap_email_index"
        projection = KeysOnlyProjection()

    ap_email = UnicodeAttribute(hash_key=True)


class OnboardingDueIndex(GlobalSecondaryIndex["CustomerRecord"]):
    """Sparse: only customers with onboarding work waiting for a time (an invitation to send or remind, a
    validation to retry after an outage) carry `onboarding_due_shard`; the hourly onboarding sweep reads the
    ones whose time has come and nothing else."""

    class Meta:
        index_name = "onboarding_due_index"
        projection = KeysOnlyProjection()

    onboarding_due_shard = UnicodeAttribute(hash_key=True)
    onboarding_due_at = UnicodeAttribute(range_key=True)  # ISO instant, UTC, "YYYY-MM-DDTHH:MM:SSZ"


class SegmentIndex(GlobalSecondaryIndex["CustomerRecord"]):
    """Staff list customers of one segment; re-segmentation walks a segment instead of the table."""

    class Meta:
        index_name = "segment_index"
        projection = KeysOnlyProjection()

    segment = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute(range_key=True)


class CustomerRecord(ArcollectModel):
    table_key = "customers"

    class Meta(ArcollectModel.Meta):
        table_name = "customers"

    customer_id = UnicodeAttribute(hash_key=True)
    legal_name = UnicodeAttribute(null=True)
    dba_name = UnicodeAttribute(null=True)
    country = UnicodeAttribute(null=True)  # ISO 3166 alpha-2
    tin_type = UnicodeAttribute(null=True)  # ein | ssn | itin | eu_vat | gb_vat | gb_utr | ca_bn
    tin_ciphertext = BinaryAttribute(null=True, legacy_encoding=False)  # KMS, context = customer_id
    tin_last4 = UnicodeAttribute(null=True)
    tin_fingerprint = UnicodeAttribute(null=True)  # keyed HMAC of the normalised TIN (docs/tin-protection.md)
    ap_email = UnicodeAttribute(null=True)  # the primary AP contact's normalised address
    contacts = ListAttribute(of=ContactMap, default=list)
    timezone = UnicodeAttribute(default="America/New_York")
    currency = UnicodeAttribute(default="USD")
    terms_days = NumberAttribute(default=30)
    segment = UnicodeAttribute(default="default")
    segment_pinned = BooleanAttribute(default=False)  # assigned by hand: segment rules leave it alone
    onboarding_status = UnicodeAttribute(default="invited")
    onboarding_reasons = string_list()
    # Onboarding (shared/onboarding/workflow.py): every master-data change is a new revision, and a workflow
    # execution acts only for the revision it was started for (an older one ends as superseded).
    onboarding_revision = NumberAttribute(default=0)
    onboarding_execution = UnicodeAttribute(null=True)  # ARN of the latest validation execution
    tin_check = UnicodeAttribute(null=True)  # format_valid | document_verified | externally_matched
    verification_pending = UnicodeAttribute(null=True)  # token hash of the verification link awaited now
    invited_at = UTCDateTimeAttribute(null=True)
    invitations_sent = NumberAttribute(default=0)
    # Work waiting for a time (OnboardingDueIndex): "invite" | "remind" | "revalidate".
    onboarding_due_action = UnicodeAttribute(null=True)
    onboarding_due_shard = UnicodeAttribute(null=True)
    onboarding_due_at = UnicodeAttribute(null=True)
    origin = UnicodeAttribute(default="erp")  # erp (imported) | invited (new through the portal)
    # Holds that stop every reminder for the whole customer (invoice-level holds live on the invoice).
    do_not_contact = BooleanAttribute(default=False)
    auto_pay = BooleanAttribute(default=False)
    hold_until = UnicodeAttribute(null=True)  # ISO date
    # Staff revoked portal access: every link and session issued before this instant is refused.
    portal_access_revoked_at = UTCDateTimeAttribute(null=True)
    # Overpayments and unapplied cash, per currency, in minor units. Never negative. Derived by the ledger
    # (shared/ledger/allocation.py) in the same writes that change the customer's invoices and payments.
    credit_minor = MapAttribute[str, Any](default=dict)
    # The customer's open balance per currency and its count of open invoices, kept in the same writes that
    # change invoice balances, so a customer list page costs no invoice query.
    open_minor = MapAttribute[str, Any](default=dict)
    open_invoices = NumberAttribute(default=0)
    # How many invoices and documents (payments + credit notes) the customer has: the ledger checks its
    # eventually consistent indexes against these before it re-allocates, so it never works from a stale list.
    invoice_count = NumberAttribute(default=0)
    document_count = NumberAttribute(default=0)
    # Set while a re-allocation too large for one transaction is being written: the next import finishes it.
    ledger_dirty = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    ap_email_index = ApEmailIndex()

    def credit_balances(self) -> dict[str, int]:
        """Credit per currency as plain ints (a raw MapAttribute reads back as a MapAttribute)."""
        return _minor_map(self.credit_minor)

    def open_balances(self) -> dict[str, int]:
        """Open balance per currency as plain ints."""
        return _minor_map(self.open_minor)

    segment_index = SegmentIndex()
    onboarding_due_index = OnboardingDueIndex()


def _minor_map(raw: Any) -> dict[str, int]:
    values = raw.as_dict() if isinstance(raw, MapAttribute) else dict(raw or {})
    return {currency: int(amount) for currency, amount in values.items()}


class TinClaimRecord(ArcollectModel):
    """Who holds a TIN, keyed by its fingerprint: "one TIN, one customer" is a read by key (a batch of 100 per
    import chunk), written in the same transaction as the customers that claim or give up the TIN."""

    table_key = "tin_claims"

    class Meta(ArcollectModel.Meta):
        table_name = "tin_claims"

    fingerprint = UnicodeAttribute(hash_key=True)
    customer_ids = UnicodeSetAttribute(null=True)  # DynamoDB has no empty set: None when nobody holds it
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    def holders(self) -> set[str]:
        return set(self.customer_ids or ())


# --- invoices ------------------------------------------------------------------------------------------


# Index projections: only what each access pattern reads is copied (memory locally, write cost in AWS).
INVOICE_LINE_ATTRIBUTES = [
    "number",
    "issue_date",
    "currency",
    "amount_minor",
    "balance_minor",
    "status",
    "paid_on",
    "next_action_date",
    # The portal's invoice list shows the PO and whether dunning is paused by a dispute or a promise.
    "po_number",
    "dispute_id",
    "promise_date",
]
DUNNING_ATTRIBUTES = [
    "customer_id",
    "issue_date",
    "due_date",
    "currency",
    "amount_minor",
    "balance_minor",
    "status",
    "dispute_id",
    "promise_date",
    "payment_in_progress",
    "hold_until",
    "dunning_excluded",
    "policy_override",
    "touches",
    "steps_done",
    "last_touch_on",
    # The run plans from the index and writes back only if the invoice is still this version: the balance
    # and holds at send time are the stored ones, without a second read (shared/dunning/dispatch.py).
    "version",
]


class NextActionIndex(GlobalSecondaryIndex["InvoiceRecord"]):
    """Sparse and sharded: only invoices with a planned touch carry `next_action_shard`, so the daily run
    queries `next_action_date <= today` on each shard and reads nothing that is not due."""

    class Meta:
        index_name = "next_action_index"
        # What the daily run plans from; the payments applied (the item's bulk) stay on the table.
        projection = IncludeProjection(DUNNING_ATTRIBUTES)

    next_action_shard = UnicodeAttribute(hash_key=True)
    next_action_date = UnicodeAttribute(range_key=True)


class AppliedPaymentMap(MapAttribute[str, Any]):
    """One document's share of an invoice: a payment or a credit note (`kind`)."""

    payment_id = UnicodeAttribute()  # the payment's or the credit note's id
    paid_on = UnicodeAttribute()
    amount_minor = NumberAttribute()
    source = UnicodeAttribute()
    kind = UnicodeAttribute(default="payment")  # payment | credit


class CustomerInvoicesIndex(GlobalSecondaryIndex["InvoiceRecord"]):
    """A customer's invoices by due date: the portal's invoice list and statement, the import's
    oldest-first allocation of unallocated payments, a customer's open balance."""

    class Meta:
        index_name = "customer_invoices_index"
        # A list or statement line; the ledger reads the keys and then the items themselves, consistently.
        projection = IncludeProjection(INVOICE_LINE_ATTRIBUTES)

    customer_id = UnicodeAttribute(hash_key=True)
    due_date = UnicodeAttribute(range_key=True)


class InvoiceRecord(ArcollectModel):
    """Keyed by the ERP's invoice id, so an import upserts by id with batch reads and writes. A portal
    request reads the invoice by id and answers 404 unless its `customer_id` is the session's."""

    table_key = "invoices"

    class Meta(ArcollectModel.Meta):
        table_name = "invoices"

    invoice_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    number = UnicodeAttribute(null=True)
    issue_date = UnicodeAttribute()  # ISO dates sort and compare as strings
    due_date = UnicodeAttribute()
    currency = UnicodeAttribute()
    amount_minor = NumberAttribute()
    # The balance is derived (shared/ledger/balance.py) from what the ERP says and what arcollect knows:
    erp_balance_minor = NumberAttribute(null=True)  # the balance column of an import, if it had one
    erp_balance_on = UnicodeAttribute(null=True)  # the day that balance was imported
    applied = ListAttribute(of=AppliedPaymentMap, default=list)  # every payment allocated to it
    balance_minor = NumberAttribute()
    # What the ERP's balance shows as settled that no payment or credit note arcollect knows explains.
    erp_settled_minor = NumberAttribute(default=0)
    status = UnicodeAttribute(default="open")  # open | paid
    po_number = UnicodeAttribute(null=True)
    paid_on = UnicodeAttribute(null=True)  # date the balance reached zero
    # What stops reminders for this invoice (PRODUCT.md 1.3 rule 5).
    dispute_id = UnicodeAttribute(null=True)
    promise_date = UnicodeAttribute(null=True)
    # What the customer said when it disputed or promised through the portal (the timeline has the rest).
    dispute = JSONAttribute(null=True)  # {"reason", "amount_minor", "opened_on"}
    promise = JSONAttribute(null=True)  # {"promise_id", "amount_minor", "made_on"}
    payment_in_progress = UnicodeAttribute(null=True)  # the payment attempt id
    hold_until = UnicodeAttribute(null=True)
    dunning_excluded = BooleanAttribute(default=False)
    policy_override = UnicodeAttribute(null=True)
    # Dunning progress.
    touches = NumberAttribute(default=0)
    steps_done = UnicodeSetAttribute(null=True)
    last_touch_on = UnicodeAttribute(null=True)
    next_action_shard = UnicodeAttribute(null=True)
    next_action_date = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    next_action_index = NextActionIndex()
    customer_invoices_index = CustomerInvoicesIndex()


# --- payments ------------------------------------------------------------------------------------------


class AllocationMap(MapAttribute[str, Any]):
    invoice_id = UnicodeAttribute()
    amount_minor = NumberAttribute()


class CustomerPaymentsIndex(GlobalSecondaryIndex["PaymentRecord"]):
    """A customer's payments by date; keys only: readers fetch the items (consistently) by key."""

    class Meta:
        index_name = "customer_payments_index"
        projection = KeysOnlyProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    paid_on = UnicodeAttribute(range_key=True)


class PaymentRecord(ArcollectModel):
    """One payment from any source (ERP import, Stripe, manual); its allocations are applied to invoices in
    the same transaction that creates it, so a payment id is applied exactly once."""

    table_key = "payments"

    class Meta(ArcollectModel.Meta):
        table_name = "payments"

    payment_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    paid_on = UnicodeAttribute()
    currency = UnicodeAttribute()
    amount_minor = NumberAttribute()
    invoice_id = UnicodeAttribute(null=True)  # the invoice the payment names, if any
    method = UnicodeAttribute(null=True)
    source = UnicodeAttribute(default="erp")  # erp | stripe | manual
    status = UnicodeAttribute(default="settled")  # pending | settled | failed | refunded | charged_back
    allocations = ListAttribute(of=AllocationMap, default=list)
    unapplied_minor = NumberAttribute(default=0)  # went to the customer's credit
    created_at = UTCDateTimeAttribute()

    customer_payments_index = CustomerPaymentsIndex()


class CustomerCreditsIndex(GlobalSecondaryIndex["CreditNoteRecord"]):
    class Meta:
        index_name = "customer_credits_index"
        projection = KeysOnlyProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    credited_on = UnicodeAttribute(range_key=True)


class CreditNoteRecord(ArcollectModel):
    """A credit note from the ERP: allocated like a payment (shared/ledger/allocation.py), exactly once."""

    table_key = "credit_notes"

    class Meta(ArcollectModel.Meta):
        table_name = "credit_notes"

    credit_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    credited_on = UnicodeAttribute()
    currency = UnicodeAttribute()
    amount_minor = NumberAttribute()
    invoice_id = UnicodeAttribute(null=True)  # the invoice the credit note names, if any
    reason = UnicodeAttribute(null=True)
    source = UnicodeAttribute(default="erp")
    allocations = ListAttribute(of=AllocationMap, default=list)
    unapplied_minor = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()

    customer_credits_index = CustomerCreditsIndex()


class PaymentAttemptIndex(GlobalSecondaryIndex["PaymentAttemptRecord"]):
    class Meta:
        index_name = "checkout_session_index"
        projection = KeysOnlyProjection()

    checkout_session_id = UnicodeAttribute(hash_key=True)


class PaymentAttemptRecord(ArcollectModel):
    """A portal payment recorded before Stripe is called; its id is the Stripe idempotency key."""

    table_key = "payment_attempts"

    class Meta(ArcollectModel.Meta):
        table_name = "payment_attempts"

    attempt_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    invoice_ids = string_list()
    currency = UnicodeAttribute()
    amount_minor = NumberAttribute()
    status = UnicodeAttribute(default="created")  # created | open | processing | paid | failed | expired
    checkout_session_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    checkout_session_index = PaymentAttemptIndex()


class StripeEventRecord(ArcollectModel):
    """Every verified webhook delivery, stored once by event id before it is acknowledged."""

    table_key = "stripe_events"

    class Meta(ArcollectModel.Meta):
        table_name = "stripe_events"

    event_id = UnicodeAttribute(hash_key=True)
    event_type = UnicodeAttribute()
    object_id = UnicodeAttribute(null=True)
    created = NumberAttribute()  # Stripe's own timestamp: orders deliveries that arrive out of order
    payload = UnicodeAttribute()
    status = UnicodeAttribute(default="received")  # received | processed | failed
    attempts = NumberAttribute(default=0)
    received_at = UTCDateTimeAttribute()
    processed_at = UTCDateTimeAttribute(null=True)
    expires_at = NumberAttribute(null=True)  # TTL, epoch seconds


# --- timeline and worklist -----------------------------------------------------------------------------


class ActivityRecord(ArcollectModel):
    """One customer's timeline: touches, notes, disputes, promises, payments, call outcomes, imports."""

    table_key = "activities"

    class Meta(ArcollectModel.Meta):
        table_name = "activities"

    customer_id = UnicodeAttribute(hash_key=True)
    activity_key = UnicodeAttribute(range_key=True)  # "<ISO timestamp>#<id>": sorts by time
    kind = UnicodeAttribute()  # touch | note | dispute | promise | payment | call | import | onboarding
    invoice_ids = string_list()
    summary = UnicodeAttribute()
    details = JSONAttribute(null=True)
    actor = UnicodeAttribute(default="system")  # system | customer | staff:<name>
    occurred_at = UTCDateTimeAttribute()


class OpenTasksIndex(GlobalSecondaryIndex["TaskRecord"]):
    """Sparse: only open tasks carry `open_shard`; the worklist reads shards by descending score."""

    class Meta:
        index_name = "open_tasks_index"
        projection = AllProjection()

    open_shard = UnicodeAttribute(hash_key=True)
    score_key = UnicodeAttribute(range_key=True)  # zero-padded score + task id, sorts by worth


class CustomerTasksIndex(GlobalSecondaryIndex["TaskRecord"]):
    class Meta:
        index_name = "customer_tasks_index"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class TaskRecord(ArcollectModel):
    table_key = "tasks"

    class Meta(ArcollectModel.Meta):
        table_name = "tasks"

    task_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # call | broken_promise | dispute | bounce | send_failed | onboarding | checkin
    invoice_ids = string_list()
    due = UnicodeAttribute()  # ISO date
    score = NumberAttribute(default=0)
    reason = UnicodeAttribute()
    status = UnicodeAttribute(default="open")  # open | done
    outcome = UnicodeAttribute(null=True)
    open_shard = UnicodeAttribute(null=True)
    score_key = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    closed_at = UTCDateTimeAttribute(null=True)

    open_tasks_index = OpenTasksIndex()
    customer_tasks_index = CustomerTasksIndex()


# --- dunning -------------------------------------------------------------------------------------------


class PolicySetRecord(ArcollectModel):
    """The policy file as applied (policies + segments), versioned: `set_name="active"`, newest version
    wins, older versions are the audit trail."""

    table_key = "policy_sets"

    class Meta(ArcollectModel.Meta):
        table_name = "policy_sets"

    set_name = UnicodeAttribute(hash_key=True)
    version_number = NumberAttribute(range_key=True)
    document = JSONAttribute()
    source_text = UnicodeAttribute()
    applied_by = UnicodeAttribute(default="staff")
    applied_at = UTCDateTimeAttribute()


class DunningRunRecord(ArcollectModel):
    table_key = "dunning_runs"

    class Meta(ArcollectModel.Meta):
        table_name = "dunning_runs"

    run_date = UnicodeAttribute(hash_key=True)  # the as-of date the run planned for
    run_id = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute(default="running")  # running | succeeded | failed
    execution_arn = UnicodeAttribute(null=True)
    counts = JSONAttribute(null=True)  # sent / skipped / failed per channel and reason
    started_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)


class DunningBatchRecord(ArcollectModel):
    """What one batch of a run did, written once by the batch (Step Functions' ResultWriter is not used: moto
    writes no result files). `arcollect dunning run --wait` adds a run's batches up."""

    table_key = "dunning_batches"

    class Meta(ArcollectModel.Meta):
        table_name = "dunning_batches"

    run_id = UnicodeAttribute(hash_key=True)
    batch_id = UnicodeAttribute(range_key=True)
    counts = JSONAttribute()  # {"sent": {channel: n}, "tasks": {kind: n}, "skipped": {reason: n}, "failed": n}
    outcomes = JSONAttribute(null=True)  # [{customer_id, invoice_ids, channel, outcome, reason}], bounded
    finished_at = UTCDateTimeAttribute()
    expires_at = NumberAttribute(null=True)  # TTL, epoch seconds


class PendingSendsIndex(GlobalSecondaryIndex["SendRecord"]):
    """Sparse: only claims not yet sent carry `pending_shard`, so the run's last step finds every claim a
    crash or a failure left behind and hands it to the retry queue: nothing claimed is silently dropped."""

    class Meta:
        index_name = "pending_sends_index"
        projection = KeysOnlyProjection()

    pending_shard = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class SendRecord(ArcollectModel):
    """Exactly-once ledger of outbound messages: the key is customer#channel#local date, written with a
    condition before the message leaves, so a re-run, a retry or an overlapping run cannot send twice."""

    table_key = "sends"

    class Meta(ArcollectModel.Meta):
        table_name = "sends"

    send_key = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    channel = UnicodeAttribute()
    invoice_ids = string_list()
    steps = string_list()
    status = UnicodeAttribute(default="claimed")  # claimed | sent | failed | task (given up: a task instead)
    attempts = NumberAttribute(default=0)
    message_id = UnicodeAttribute(null=True)
    run_id = UnicodeAttribute(null=True)
    local_date = UnicodeAttribute(null=True)  # the customer's day the message is for
    details = JSONAttribute(null=True)  # what the sender needs to (re)send it: template, items, fallback
    error = UnicodeAttribute(null=True)  # the last failure, for the task it may become
    pending_shard = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    sent_at = UTCDateTimeAttribute(null=True)
    version = VersionAttribute()

    pending_sends_index = PendingSendsIndex()


# --- onboarding ----------------------------------------------------------------------------------------


class EmailVerificationRecord(ArcollectModel):
    """A pending verification click: only the token's hash is stored; the Step Functions task token waits
    here until the customer clicks."""

    table_key = "email_verifications"

    class Meta(ArcollectModel.Meta):
        table_name = "email_verifications"

    token_hash = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    contact_id = UnicodeAttribute()
    email = UnicodeAttribute()
    task_token = UnicodeAttribute(null=True)
    revision = NumberAttribute(default=0)  # the customer's onboarding revision the email was sent for
    confirmed_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    expires_at = NumberAttribute()  # TTL, epoch seconds


class SuppressionRecord(ArcollectModel):
    """arcollect's own suppression list (SES's account-level one is not available everywhere, and not under
    `arcollect local`): an address that bounced permanently or complained is never accepted as an AP address
    again until staff remove it."""

    table_key = "suppressions"

    class Meta(ArcollectModel.Meta):
        table_name = "suppressions"

    email = UnicodeAttribute(hash_key=True)  # normalised, lower-case
    reason = UnicodeAttribute()  # bounce | complaint
    customer_id = UnicodeAttribute(null=True)
    suppressed_at = UTCDateTimeAttribute()


# --- portal access ------------------------------------------------------------------------------------


class SessionRecord(ArcollectModel):
    """A portal session made from a link: the session token names it (jti), so signing out or a staff
    revocation ends it before it expires. Expired sessions are refused by their token's `exp`; TTL only tidies."""

    table_key = "sessions"

    class Meta(ArcollectModel.Meta):
        table_name = "sessions"

    session_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    link_id = UnicodeAttribute(null=True)  # the jti of the link it was made from
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)
    expires_at = NumberAttribute()  # TTL, epoch seconds


class RateLimitRecord(ArcollectModel):
    """A counter per limited thing and time window (e.g. sign-in links asked for one address in one hour),
    incremented with a condition so concurrent requests cannot pass the limit together."""

    table_key = "rate_limits"

    class Meta(ArcollectModel.Meta):
        table_name = "rate_limits"

    limit_key = UnicodeAttribute(hash_key=True)  # "<what>#<hash of the subject>#<window start>"
    hits = NumberAttribute(default=0)
    expires_at = NumberAttribute()  # TTL, epoch seconds


# --- ledger imports ------------------------------------------------------------------------------------


class ImportRecord(ArcollectModel):
    """One imported file (CLI or S3 drop): counts and every rejected or warned line."""

    table_key = "imports"

    class Meta(ArcollectModel.Meta):
        table_name = "imports"

    import_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # customers | invoices | payments | credits
    source = UnicodeAttribute()  # file name or s3://bucket/key
    status = UnicodeAttribute(default="running")  # running | done | failed
    counts = JSONAttribute(null=True)
    problems = JSONAttribute(null=True)  # [{"line": N, "severity": "error"|"warning", "reason": "..."}]
    started_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)


ALL_TABLES: tuple[type[ArcollectModel], ...] = (
    CustomerRecord,
    TinClaimRecord,
    InvoiceRecord,
    PaymentRecord,
    CreditNoteRecord,
    PaymentAttemptRecord,
    StripeEventRecord,
    ActivityRecord,
    TaskRecord,
    PolicySetRecord,
    DunningRunRecord,
    DunningBatchRecord,
    SendRecord,
    EmailVerificationRecord,
    SuppressionRecord,
    SessionRecord,
    RateLimitRecord,
    ImportRecord,
)

# Tables whose items expire by themselves (DynamoDB TTL attribute).
TTL_ATTRIBUTES: dict[str, str] = {
    "stripe_events": "expires_at",
    "email_verifications": "expires_at",
    "dunning_batches": "expires_at",
    "sessions": "expires_at",
    "rate_limits": "expires_at",
}

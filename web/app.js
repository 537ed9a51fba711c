// The customer portal page: a small script on the portal API, no framework and no build step.
//
// Security rules this file keeps (the page is served under a CSP without 'unsafe-inline'):
// - The sign-in link's token is taken out of the address bar before anything else runs, so it is not left
//   in the history, a bookmark or a shared screenshot. The session token lives in sessionStorage (gone with
//   the tab) and travels only in the Authorization header, never in a URL.
// - Everything the API returns is data: it is inserted with textContent / createElement, never as markup.
// - Files (PDFs) are fetched with the bearer token and handed to the browser as a blob.

const linkToken = takeLinkFromAddress();

const SESSION_KEY = "arcollect.portal.session";
const PAGE_SIZE = 50;
const PAYMENT_UNAVAILABLE = "Online payment is not available yet. Please pay by your usual method for now.";
const SESSION_ENDED = "Your session has ended. Sign in again with a new link.";
const NETWORK_FAILURE = "The portal cannot be reached. Check your connection and try again.";

const DISPUTE_REASONS = {
  wrong_amount: "Wrong amount",
  not_received: "Goods or services not received",
  damaged_or_defective: "Damaged or defective",
  duplicate: "Duplicate invoice",
  already_paid: "Already paid",
  credit_due: "A credit is due",
  other: "Other",
};

const ONBOARDING_STATUSES = {
  submitted: "Submitted, being checked",
  approved: "Approved",
  needs_attention: "Needs your attention",
  rejected: "Rejected",
};

const EMAIL_STATES = {
  verified: "This address is verified.",
  unverified: "This address is not verified yet: we will email it a confirmation link.",
  pending: "We sent this address a confirmation link: open it to verify the address.",
  bounced: "Emails to this address bounce: please give another one.",
};

const VIEW_TITLES = {
  loading: "Loading",
  signin: "Sign in",
  invoices: "Invoices",
  invoice: "Invoice",
  statement: "Statement",
  timeline: "Timeline",
  profile: "Your details",
};

function takeLinkFromAddress() {
  const address = new URL(window.location.href);
  const token = address.searchParams.get("link");
  if (token === null) {
    return null;
  }
  address.searchParams.delete("link");
  window.history.replaceState(null, "", address.pathname + address.search + address.hash);
  return token;
}

// --- the session -------------------------------------------------------------------------------------

function storedSession() {
  try {
    const session = JSON.parse(window.sessionStorage.getItem(SESSION_KEY) || "null");
    return session && typeof session.token === "string" ? session : null;
  } catch {
    return null;
  }
}

// Its expiry is left to the API (a 401 ends it here): the system's clock may run on another day than the browser's.
function keepSession(answer) {
  const session = { token: answer.session_token, customerId: answer.customer_id };
  window.sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

function forgetSession() {
  window.sessionStorage.removeItem(SESSION_KEY);
}

// --- talking to the API ------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, envelope) {
    const error = (envelope && envelope.error) || {};
    super(typeof error.message === "string" ? error.message : `The request failed (HTTP ${status}).`);
    this.status = status;
    this.code = typeof error.code === "string" ? error.code : "error";
    this.details = Array.isArray(error.details) ? error.details : [];
  }
}

class SessionEnded extends Error {}

async function request(method, path, { body, binary = false } = {}) {
  const session = storedSession();
  const headers = { Accept: binary ? "application/pdf" : "application/json" };
  if (session) {
    headers.Authorization = `Bearer ${session.token}`;
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
    });
  } catch {
    throw new ApiError(0, { error: { code: "network", message: NETWORK_FAILURE } });
  }
  if (response.status === 401 && session) {
    signedOut(SESSION_ENDED);
    throw new SessionEnded();
  }
  if (!response.ok) {
    throw new ApiError(response.status, await response.json().catch(() => null));
  }
  return response;
}

async function api(method, path, body) {
  const response = await request(method, path, { body });
  return response.status === 204 ? null : response.json();
}

// --- building the page -------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined && value !== null && value !== false) {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  node.append(...children.filter((child) => child !== null && child !== undefined).map(asNode));
  return node;
}

function asNode(child) {
  return child instanceof Node ? child : document.createTextNode(String(child));
}

function text(node, value) {
  node.textContent = value === null || value === undefined ? "" : String(value);
}

function money(amount, currency) {
  if (amount === null || amount === undefined) {
    return "—";
  }
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(amount);
  } catch {
    return `${currency} ${amount}`;
  }
}

function dateOnly(iso) {
  if (!iso) {
    return el("span", {}, "—");
  }
  const shown = new Date(`${iso}T00:00:00Z`).toLocaleDateString(undefined, { timeZone: "UTC", dateStyle: "medium" });
  return el("time", { datetime: iso }, shown === "Invalid Date" ? iso : shown);
}

function instant(iso) {
  const moment = new Date(iso);
  const shown = Number.isNaN(moment.getTime())
    ? iso
    : moment.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  return el("time", { datetime: iso }, shown);
}

function invoiceName(invoice) {
  return invoice.number || invoice.invoice_id;
}

function invoiceHref(invoiceId) {
  return `#/invoices/${encodeURIComponent(invoiceId)}`;
}

function invoicePath(invoiceId, suffix = "") {
  return `/portal/invoices/${encodeURIComponent(invoiceId)}${suffix}`;
}

function status(message) {
  text($("status"), message);
}

// An error next to the form it belongs to (role="alert" announces it), its fields marked invalid.
function showError(container, error, form) {
  if (error instanceof SessionEnded) {
    return;
  }
  const message = error instanceof ApiError ? error.message : "Something went wrong. Try again.";
  const details = error instanceof ApiError ? error.details : [];
  container.replaceChildren(el("p", {}, message));
  const lines = details.filter((d) => d && typeof d.message === "string").map((d) => el("li", {}, describe(d, form)));
  if (lines.length) {
    container.append(el("ul", {}, ...lines));
  }
  for (const detail of details) {
    const field = form && detail && typeof detail.field === "string" ? form.elements.namedItem(detail.field) : null;
    if (field instanceof HTMLElement) {
      field.setAttribute("aria-invalid", "true");
    }
  }
}

function describe(detail, form) {
  const field = form && typeof detail.field === "string" ? form.elements.namedItem(detail.field) : null;
  const label = field instanceof HTMLElement && field.labels && field.labels[0] ? field.labels[0].textContent : "";
  return label ? `${label}: ${detail.message}` : detail.message;
}

function clearError(container, form) {
  container.replaceChildren();
  if (form) {
    for (const field of form.querySelectorAll("[aria-invalid]")) {
      field.removeAttribute("aria-invalid");
    }
  }
}

function invalid(container, form, fieldName, message) {
  container.replaceChildren(el("p", {}, message));
  const field = form.elements.namedItem(fieldName);
  field.setAttribute("aria-invalid", "true");
  field.focus();
}

// Report a failure of a whole view (not of a form) in the status line.
function failed(error) {
  if (!(error instanceof SessionEnded)) {
    status(error instanceof ApiError ? error.message : "Something went wrong. Try again.");
  }
}

// --- views -------------------------------------------------------------------------------------------

let firstView = true;

function showView(name, title) {
  for (const view of document.querySelectorAll(".view")) {
    view.hidden = view.id !== `view-${name}`;
  }
  const signedIn = name !== "signin" && name !== "loading";
  $("nav").hidden = !signedIn;
  const current = name === "invoice" ? "invoices" : name;
  for (const link of document.querySelectorAll("#nav a[data-view]")) {
    if (link.dataset.view === current) {
      link.setAttribute("aria-current", "page");
    } else {
      link.removeAttribute("aria-current");
    }
  }
  document.title = `${title || VIEW_TITLES[name]} – Customer portal`;
  const heading = document.querySelector(`#view-${name} h2`);
  // Moving focus tells screen readers the view changed; not on the first view, where the page just opened.
  if (!firstView && heading) {
    heading.focus();
  }
  firstView = false;
}

function signedOut(message) {
  forgetSession();
  text($("signin-alert"), message);
  if (window.location.hash) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  showView("signin");
}

async function route() {
  if (!storedSession()) {
    showView("signin");
    return;
  }
  status("");
  const hash = window.location.hash;
  if (hash && !hash.startsWith("#/")) {
    return; // an in-page anchor, not a view
  }
  const invoice = /^#\/invoices\/(.+)$/.exec(hash);
  try {
    if (invoice) {
      await showInvoice(decodeURIComponent(invoice[1]));
    } else if (hash === "#/statement") {
      await showStatement();
    } else if (hash === "#/timeline") {
      await showTimeline();
    } else if (hash === "#/profile") {
      await showProfile();
    } else {
      await showInvoices();
    }
  } catch (error) {
    if (invoice && error instanceof ApiError && error.status === 404) {
      window.history.replaceState(null, "", "#/invoices");
      await showInvoices().catch(failed);
    }
    failed(error);
  }
}

// --- signing in and out ------------------------------------------------------------------------------

async function signIn(token) {
  try {
    const answer = await api("POST", "/portal/session", { link_token: token });
    keepSession(answer);
    text($("signin-alert"), "");
  } catch (error) {
    forgetSession();
    const reason = error instanceof ApiError && error.status === 401
      ? "This sign-in link cannot be used: it has expired, was replaced or was cancelled. Ask for a new one below."
      : error.message;
    text($("signin-alert"), reason);
  }
}

async function requestLink(event) {
  event.preventDefault();
  const form = $("link-form");
  const errors = $("link-error");
  clearError(errors, form);
  text($("link-answer"), "");
  const email = form.elements.namedItem("email").value.trim();
  if (!email) {
    invalid(errors, form, "email", "Enter your email address.");
    return;
  }
  try {
    const answer = await api("POST", "/portal/links", { email });
    text($("link-answer"), answer.message);
  } catch (error) {
    showError(errors, error, form);
  }
}

async function signOut() {
  try {
    await api("POST", "/portal/logout");
  } catch {
    // Signed out here whatever the API said: the token is forgotten either way.
  }
  signedOut("You are signed out.");
}

// --- invoices ----------------------------------------------------------------------------------------

const invoiceList = { status: "open", next: null };

const CAPTIONS = { open: "Open invoices", paid: "Paid invoices", all: "All invoices" };

async function showInvoices() {
  showView("invoices");
  await loadInvoices(false);
}

async function loadInvoices(append) {
  const params = new URLSearchParams({ status: invoiceList.status, limit: String(PAGE_SIZE) });
  if (append && invoiceList.next) {
    params.set("cursor", invoiceList.next);
  }
  const page = await api("GET", `/portal/invoices?${params}`);
  const rows = $("invoice-rows");
  if (!append) {
    rows.replaceChildren();
    clearError($("pay-error"));
  }
  const added = page.invoices.map(invoiceRow);
  rows.append(...added);
  invoiceList.next = page.next;
  text($("invoice-caption"), CAPTIONS[invoiceList.status]);
  $("invoice-table").hidden = rows.children.length === 0;
  $("invoices-empty").hidden = rows.children.length > 0;
  $("more-invoices").hidden = !page.next;
  $("pay").hidden = invoiceList.status === "paid";
  return added;
}

function invoiceRow(invoice) {
  const name = invoiceName(invoice);
  const payable = invoice.status === "open" && Number(invoice.balance) > 0;
  const choose = payable
    ? el(
      "label",
      { class: "choose" },
      el("input", { type: "checkbox", value: invoice.invoice_id, "data-pay": true }),
      el("span", { class: "visually-hidden" }, `Pay invoice ${name}`),
    )
    : null;
  return el(
    "tr",
    {},
    el("td", { "data-label": "Pay" }, choose),
    el("th", { scope: "row", "data-label": "Invoice" }, el("a", { href: invoiceHref(invoice.invoice_id) }, name)),
    el("td", { "data-label": "PO" }, invoice.po_number || "—"),
    el("td", { "data-label": "Issued" }, dateOnly(invoice.issue_date)),
    el("td", { "data-label": "Due" }, dateOnly(invoice.due_date)),
    el("td", { "data-label": "Amount", class: "num" }, money(invoice.amount, invoice.currency)),
    el("td", { "data-label": "Balance", class: "num" }, money(invoice.balance, invoice.currency)),
    el("td", { "data-label": "Status" }, statusText(invoice)),
    el("td", { "data-label": "Days past due", class: "num" }, invoice.status === "open" ? invoice.days_past_due : "—"),
  );
}

function statusText(invoice) {
  const parts = [invoice.status === "paid" ? "Paid" : invoice.days_past_due > 0 ? "Overdue" : "Open"];
  if (invoice.disputed) {
    parts.push("disputed");
  }
  if (invoice.promise_date) {
    parts.push(`promised for ${invoice.promise_date}`);
  }
  return parts.join(", ");
}

async function moreInvoices() {
  try {
    const added = await loadInvoices(true);
    const link = added.length ? added[0].querySelector("a") : null;
    if (link && $("more-invoices").hidden) {
      link.focus();
    }
  } catch (error) {
    failed(error);
  }
}

async function pay() {
  const errors = $("pay-error");
  clearError(errors);
  const chosen = [...document.querySelectorAll("#invoice-rows input[data-pay]:checked")].map((box) => box.value);
  if (chosen.length === 0) {
    text(errors, "Choose the invoices to pay first (the boxes in the Pay column).");
    return;
  }
  try {
    const started = await api("POST", "/portal/payments", { invoice_ids: chosen });
    followCheckout(started.checkout_url, errors);
  } catch (error) {
    if (error instanceof ApiError && error.status === 501) {
      text(errors, PAYMENT_UNAVAILABLE);
    } else {
      showError(errors, error);
    }
  }
}

function followCheckout(url, errors) {
  let target = null;
  try {
    target = new URL(url);
  } catch {
    target = null;
  }
  // Only a secure web address: never javascript: or data: from an answer.
  if (target && target.protocol === "https:") {
    window.location.assign(target.href);
  } else {
    text(errors, "The payment page cannot be opened. Try again later.");
  }
}

// --- one invoice -------------------------------------------------------------------------------------

let currentInvoice = null;

async function showInvoice(invoiceId) {
  const invoice = await api("GET", invoicePath(invoiceId));
  currentInvoice = invoice;
  renderInvoice(invoice);
  for (const id of ["note", "dispute", "promise"]) {
    clearError($(`${id}-error`), $(`${id}-form`));
  }
  clearError($("invoice-pdf-error"));
  showView("invoice", `Invoice ${invoiceName(invoice)}`);
}

function renderInvoice(invoice) {
  text($("invoice-heading"), `Invoice ${invoiceName(invoice)}`);
  const facts = [
    ["Status", statusText(invoice)],
    ["Issued", dateOnly(invoice.issue_date)],
    ["Due", dateOnly(invoice.due_date)],
    ["Days past due", invoice.status === "open" ? invoice.days_past_due : "—"],
    ["Amount", money(invoice.amount, invoice.currency)],
    ["Balance", money(invoice.balance, invoice.currency)],
    ["PO number", invoice.po_number || "—"],
  ];
  if (invoice.paid_on) {
    facts.push(["Paid on", dateOnly(invoice.paid_on)]);
  }
  $("invoice-facts").replaceChildren(...facts.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
  renderApplied(invoice.applied || []);
  renderDisputeState(invoice);
  renderPromiseState(invoice);
  renderActivities($("invoice-activities"), $("invoice-activities-empty"), invoice.activities || [], false);
}

function renderApplied(applied) {
  $("applied-rows").replaceChildren(
    ...applied.map((line) =>
      el(
        "tr",
        {},
        el("td", { "data-label": "Kind" }, line.kind === "credit" ? "Credit" : line.kind === "payment" ? "Payment" : line.kind),
        el("td", { "data-label": "Reference" }, line.reference),
        el("td", { "data-label": "On" }, dateOnly(line.on)),
        el("td", { "data-label": "Amount", class: "num" }, money(line.amount, currentInvoice.currency)),
      )
    ),
  );
  $("applied-table").hidden = applied.length === 0;
  $("applied-empty").hidden = applied.length > 0;
}

function renderDisputeState(invoice) {
  const state = $("dispute-state");
  const dispute = invoice.dispute;
  if (dispute) {
    const amount = dispute.amount ? ` for ${money(dispute.amount, invoice.currency)}` : "";
    text(state, `Disputed since ${dispute.opened_on}${amount}: ${DISPUTE_REASONS[dispute.reason] || dispute.reason}.`);
  } else if (invoice.status === "paid") {
    text(state, "This invoice is paid.");
  }
  state.hidden = !dispute && invoice.status !== "paid";
  $("dispute-form").hidden = !state.hidden;
}

function renderPromiseState(invoice) {
  const state = $("promise-state");
  const promise = invoice.promise;
  if (promise) {
    const amount = promise.amount ? money(promise.amount, invoice.currency) : "the balance";
    text(state, `You promised to pay ${amount} by ${promise.date}.`);
  } else if (invoice.status === "paid") {
    text(state, "This invoice is paid.");
  }
  state.hidden = !promise && invoice.status !== "paid";
  $("promise-form").hidden = invoice.status === "paid";
}

function optional(value) {
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

// One submit handler per form: check what the page can, send, show the error next to the form or reload.
function onSubmit(name, build, done) {
  const form = $(`${name}-form`);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errors = $(`${name}-error`);
    clearError(errors, form);
    const body = build(form, errors);
    if (!body || !currentInvoice) {
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api("POST", invoicePath(currentInvoice.invoice_id, `/${name}s`), body);
      form.reset();
      await showInvoice(currentInvoice.invoice_id);
      status(done);
    } catch (error) {
      showError(errors, error, form);
    } finally {
      button.disabled = false;
    }
  });
}

function noteBody(form, errors) {
  const note = optional(form.elements.namedItem("text").value);
  if (!note) {
    invalid(errors, form, "text", "Write the note first.");
    return null;
  }
  return { text: note };
}

function disputeBody(form) {
  return {
    reason: form.elements.namedItem("reason").value,
    amount: optional(form.elements.namedItem("amount").value),
    text: optional(form.elements.namedItem("text").value),
  };
}

function promiseBody(form, errors) {
  const date = form.elements.namedItem("date").value;
  if (!date) {
    invalid(errors, form, "date", "Choose the date you will pay by.");
    return null;
  }
  return { date, amount: optional(form.elements.namedItem("amount").value) };
}

// --- activities --------------------------------------------------------------------------------------

function renderActivities(list, empty, activities, append) {
  const items = activities.map((activity) =>
    el(
      "li",
      {},
      el("p", { class: "when" }, instant(activity.occurred_at), ` · ${activity.actor === "customer" ? "You" : "Us"}`),
      el("p", { class: "what" }, activity.summary),
      activity.text ? el("p", { class: "note" }, activity.text) : null,
    )
  );
  if (append) {
    list.append(...items);
  } else {
    list.replaceChildren(...items);
  }
  empty.hidden = list.children.length > 0;
  list.hidden = list.children.length === 0;
  return items;
}

// --- the statement -----------------------------------------------------------------------------------

const AGING_BUCKETS = [
  ["current", "Not yet due"],
  ["1-30", "1–30 days"],
  ["31-60", "31–60 days"],
  ["61-90", "61–90 days"],
  ["90+", "Over 90 days"],
];

async function showStatement() {
  const statement = await api("GET", "/portal/statement");
  $("statement-as-of").replaceChildren("As of ", dateOnly(statement.as_of));
  $("statement-currencies").replaceChildren(...statement.currencies.map(statementCurrency));
  $("statement-empty").hidden = statement.currencies.length > 0;
  clearError($("statement-pdf-error"));
  showView("statement");
}

function statementCurrency(part) {
  const currency = part.currency;
  const aging = el(
    "table",
    { class: "data" },
    el("caption", {}, `What is open in ${currency}, by days past due`),
    el("thead", {}, el("tr", {}, ...AGING_BUCKETS.map(([, label]) => el("th", { scope: "col", class: "num" }, label)))),
    el(
      "tbody",
      {},
      el(
        "tr",
        {},
        ...AGING_BUCKETS.map(([key, label]) =>
          el("td", { class: "num", "data-label": label }, money(part.aging[key], currency))
        ),
      ),
    ),
  );
  const lines = el(
    "table",
    { class: "data" },
    el("caption", {}, `Open invoices in ${currency}`),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", { scope: "col" }, "Invoice"),
        el("th", { scope: "col" }, "Issued"),
        el("th", { scope: "col" }, "Due"),
        el("th", { scope: "col", class: "num" }, "Amount"),
        el("th", { scope: "col", class: "num" }, "Balance"),
        el("th", { scope: "col", class: "num" }, "Days past due"),
      ),
    ),
    el(
      "tbody",
      {},
      ...part.lines.map((line) =>
        el(
          "tr",
          {},
          el(
            "th",
            { scope: "row", "data-label": "Invoice" },
            el("a", { href: invoiceHref(line.invoice_id) }, invoiceName(line)),
          ),
          el("td", { "data-label": "Issued" }, dateOnly(line.issue_date)),
          el("td", { "data-label": "Due" }, dateOnly(line.due_date)),
          el("td", { "data-label": "Amount", class: "num" }, money(line.amount, currency)),
          el("td", { "data-label": "Balance", class: "num" }, money(line.balance, currency)),
          el("td", { "data-label": "Days past due", class: "num" }, line.days_past_due),
        )
      ),
    ),
  );
  return el(
    "section",
    { class: "currency", "aria-label": `Statement in ${currency}` },
    el("h3", {}, currency),
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, "Open balance"),
      el("dd", {}, money(part.open_balance, currency)),
      el("dt", {}, "Unapplied credit"),
      el("dd", {}, money(part.credit, currency)),
    ),
    aging,
    part.lines.length ? lines : el("p", {}, "No open invoices."),
  );
}

// --- downloads ---------------------------------------------------------------------------------------

async function download(path, fallbackName, errors) {
  clearError(errors);
  try {
    const response = await request("GET", path, { binary: true });
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: fileName(response, fallbackName), hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    // After the click has handed the file to the browser: an object URL lives until the page does otherwise.
    window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
    status(`Downloaded ${link.download}.`);
  } catch (error) {
    showError(errors, error);
  }
}

function fileName(response, fallback) {
  const header = response.headers.get("Content-Disposition") || "";
  const match = /filename="([^"]+)"/.exec(header);
  const name = match ? match[1].replace(/[^A-Za-z0-9._-]/g, "_") : "";
  return name && name.toLowerCase().endsWith(".pdf") ? name : fallback;
}

// --- the timeline ------------------------------------------------------------------------------------

const timeline = { next: null };

async function showTimeline() {
  await loadTimeline(false);
  showView("timeline");
}

async function loadTimeline(append) {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (append && timeline.next) {
    params.set("cursor", timeline.next);
  }
  const page = await api("GET", `/portal/timeline?${params}`);
  timeline.next = page.next;
  $("more-timeline").hidden = !page.next;
  return renderActivities($("timeline"), $("timeline-empty"), page.activities, append);
}

async function moreTimeline() {
  try {
    const added = await loadTimeline(true);
    if (added.length && $("more-timeline").hidden) {
      added[0].setAttribute("tabindex", "-1");
      added[0].focus();
    }
  } catch (error) {
    failed(error);
  }
}

// --- the profile -------------------------------------------------------------------------------------

const PROFILE_FIELDS = ["legal_name", "dba_name", "tin_type", "country", "ap_email", "phone", "timezone"];
let loadedProfile = null;

async function showProfile() {
  renderProfile(await api("GET", "/portal/me"));
  clearError($("profile-error"), $("profile-form"));
  showView("profile");
}

function renderProfile(profile) {
  loadedProfile = profile;
  const form = $("profile-form");
  for (const name of PROFILE_FIELDS) {
    form.elements.namedItem(name).value = profile[name] || "";
  }
  form.elements.namedItem("tin").value = "";
  text($("profile-tin-current"), profile.tin || "none");
  text($("profile-currency"), profile.currency);
  text($("profile-terms"), profile.terms_days);
  text($("onboarding-status"), ONBOARDING_STATUSES[profile.onboarding_status] || profile.onboarding_status);
  $("onboarding-reasons").replaceChildren(...profile.onboarding_reasons.map((reason) => el("li", {}, reason)));
  text($("profile-email-state"), EMAIL_STATES[profile.email_state] || "");
}

// Only what changed is sent; the TIN only when a new one was typed (the form never holds the stored one).
function profileChanges(form) {
  const changes = {};
  for (const name of PROFILE_FIELDS) {
    const value = form.elements.namedItem(name).value.trim();
    if (value !== (loadedProfile[name] || "")) {
      changes[name] = value;
    }
  }
  const tin = form.elements.namedItem("tin").value.trim();
  if (tin) {
    changes.tin = tin;
  }
  return changes;
}

async function saveProfile(event) {
  event.preventDefault();
  const form = $("profile-form");
  const errors = $("profile-error");
  clearError(errors, form);
  const changes = profileChanges(form);
  if (Object.keys(changes).length === 0) {
    status("Nothing changed.");
    return;
  }
  try {
    renderProfile(await api("PUT", "/portal/me", changes));
    status("Your details are saved. We will check them again.");
  } catch (error) {
    showError(errors, error, form);
  }
}

// --- start -------------------------------------------------------------------------------------------

// The skip link moves focus without touching the address, whose hash names the view.
function skipToContent(event) {
  event.preventDefault();
  $("main").focus();
}

function wire() {
  document.querySelector(".skip-link").addEventListener("click", skipToContent);
  $("link-form").addEventListener("submit", requestLink);
  $("sign-out").addEventListener("click", signOut);
  $("status-filter").addEventListener("change", async (event) => {
    invoiceList.status = event.target.value;
    try {
      await loadInvoices(false);
    } catch (error) {
      failed(error);
    }
  });
  $("filter-form").addEventListener("submit", (event) => event.preventDefault());
  $("more-invoices").addEventListener("click", moreInvoices);
  $("pay").addEventListener("click", pay);
  $("more-timeline").addEventListener("click", moreTimeline);
  $("invoice-pdf").addEventListener("click", () => {
    if (currentInvoice) {
      download(invoicePath(currentInvoice.invoice_id, "/pdf"), "invoice.pdf", $("invoice-pdf-error"));
    }
  });
  $("statement-pdf").addEventListener("click", () => {
    download("/portal/statement.pdf", "statement.pdf", $("statement-pdf-error"));
  });
  onSubmit("note", noteBody, "Your note is added.");
  onSubmit("dispute", disputeBody, "Your dispute is opened: reminders for this invoice stop while we look at it.");
  onSubmit("promise", promiseBody, "Thank you: your promise is recorded.");
  $("profile-form").addEventListener("submit", saveProfile);
  window.addEventListener("hashchange", route);
}

async function start() {
  wire();
  if (linkToken !== null) {
    forgetSession();
    await signIn(linkToken);
  }
  await route();
}

start();

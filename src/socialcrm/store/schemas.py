"""Declared schemas of the warehouse's input tables.

A schema is data: ingestion validates against it, the warehouse stores with its types,
and ``docs/data-model.md`` is generated from it (a test keeps the two in step), so the
documentation can never drift from what the code accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

ColumnType = Literal["string", "int64", "float64", "bool", "date", "timestamp"]
Normaliser = Literal["email", "phone", "handle", "lower", "upper", "list"]

PLATFORMS = ("twitter", "facebook", "instagram", "linkedin", "mastodon", "bluesky")
IDENTITY_KINDS = ("email", "phone", "loyalty_id", *PLATFORMS)
POST_PLATFORMS = (*PLATFORMS, "reddit", "hackernews", "web")
"""Where posts come from: the social networks, plus the listening sources that are not
identities (Reddit, Hacker News, and ``web`` for RSS/Atom feeds)."""
CHANNELS = ("email", "sms", "phone", "mail", "push", "social", "none")
CONSENT_PURPOSES = (
    "email_marketing",
    "sms_marketing",
    "phone_marketing",
    "social_linking",
    "profiling",
    "personalised_ads",
)

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class Column:
    """One column: its type, whether it is required, its allowed values and its meaning."""

    name: str
    type: ColumnType
    meaning: str
    required: bool = False
    domain: tuple[str, ...] | None = None
    minimum: float | None = None
    normalise: Normaliser | None = None
    four_p: Literal["personal", "profile", "preferential", "performance"] | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.type]


@dataclass(frozen=True)
class TableSchema:
    """An input table: columns, natural key, and rules that span columns."""

    name: str
    meaning: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    one_of: tuple[tuple[str, ...], ...] = field(default=())
    """Groups of columns of which at least one must be present on every row."""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=not c.required) for c in self.columns]
        )


def _c(name: str, type_: ColumnType, meaning: str, **kw: object) -> Column:
    return Column(name, type_, meaning, **kw)  # type: ignore[arg-type]


CUSTOMERS = TableSchema(
    name="customers",
    meaning=(
        "One row per customer record in a source system (shop account, newsletter sign-up, "
        "loyalty card, support contact). One person may have several records; identity "
        "resolution links them. Carries the Four Ps that the customer chose to share."
    ),
    key=("customer_id",),
    columns=(
        _c(
            "customer_id",
            "string",
            "Record id, unique across sources (e.g. `shop:1042`).",
            required=True,
        ),
        _c(
            "source",
            "string",
            "System the record comes from (shop, newsletter, loyalty, support, ...).",
            required=True,
            normalise="lower",
        ),
        _c(
            "created_at",
            "timestamp",
            "When the record was created (ISO 8601; UTC if no offset).",
            required=True,
        ),
        _c("first_name", "string", "Given name.", four_p="personal"),
        _c("last_name", "string", "Family name.", four_p="personal"),
        _c("birth_date", "date", "Date of birth (YYYY-MM-DD).", four_p="personal"),
        _c(
            "gender",
            "string",
            "Self-declared gender.",
            four_p="personal",
            domain=("female", "male", "non_binary", "undisclosed"),
            normalise="lower",
        ),
        _c("street", "string", "Street address.", four_p="personal"),
        _c("city", "string", "City.", four_p="personal"),
        _c("postcode", "string", "Postal code as written.", four_p="personal"),
        _c(
            "country",
            "string",
            "ISO 3166-1 alpha-2 country code.",
            four_p="personal",
            normalise="upper",
        ),
        _c(
            "interests",
            "string",
            "Declared interests, `;`-separated (e.g. `running;travel`).",
            four_p="profile",
            normalise="list",
        ),
        _c("occupation", "string", "Declared occupation.", four_p="profile"),
        _c(
            "preferred_channel",
            "string",
            "Channel the customer prefers to be contacted on.",
            four_p="preferential",
            domain=CHANNELS,
            normalise="lower",
        ),
        _c(
            "preferred_social_sites",
            "string",
            "Social networks the customer says they use, `;`-separated platform names.",
            four_p="preferential",
            normalise="list",
        ),
        _c(
            "contact_frequency",
            "string",
            "How often the customer wants to hear from us.",
            four_p="preferential",
            domain=("daily", "weekly", "monthly", "quarterly", "never"),
            normalise="lower",
        ),
        _c(
            "reviews_written",
            "int64",
            "Product reviews the customer wrote on our channels.",
            four_p="performance",
            minimum=0,
        ),
        _c(
            "surveys_answered",
            "int64",
            "Surveys the customer answered.",
            four_p="performance",
            minimum=0,
        ),
    ),
)

IDENTITIES = TableSchema(
    name="identities",
    meaning=(
        "Any number of emails, phones, loyalty ids and social handles per customer record, "
        "each with where it came from, when it was seen, and whether it was verified. "
        "Values are normalised on ingestion (emails lower-cased, phones E.164, handles "
        "per platform)."
    ),
    key=("customer_id", "kind", "value"),
    columns=(
        _c("customer_id", "string", "Customer record the identity belongs to.", required=True),
        _c(
            "kind",
            "string",
            "What the value is.",
            required=True,
            domain=IDENTITY_KINDS,
            normalise="lower",
        ),
        _c("value", "string", "The identity, normalised for its kind.", required=True),
        _c(
            "raw_value",
            "string",
            "The value exactly as the source gave it (filled on ingestion when absent).",
        ),
        _c(
            "source",
            "string",
            "Where the identity was collected.",
            required=True,
            normalise="lower",
        ),
        _c("first_seen", "timestamp", "First time the source saw it."),
        _c("last_seen", "timestamp", "Last time the source saw it."),
        _c(
            "verified",
            "bool",
            "Whether ownership was verified (double opt-in, OAuth, SMS code).",
            required=True,
        ),
    ),
)

ORDERS = TableSchema(
    name="orders",
    meaning=(
        "Orders and refunds. A row names its customer by `customer_id`, by `email`, or both. "
        "The sign of `amount` must fit `status`: `completed` 0 or more (0 is a free order), "
        "`returned` (a refund) 0 or less, `cancelled` its original amount or 0, never "
        "negative (a cancelled order moves no money back; value models ignore it). An amount "
        "beyond ±`SOCIALCRM_INGEST_MAX_AMOUNT` (default 10,000,000) is rejected as a likely "
        "typo."
    ),
    key=("order_id",),
    columns=(
        _c("order_id", "string", "Order id, unique.", required=True),
        _c("customer_id", "string", "Customer record id."),
        _c(
            "email",
            "string",
            "Buyer's email, when the order has no customer id.",
            normalise="email",
        ),
        _c(
            "ordered_at",
            "timestamp",
            "When the order was placed (ISO 8601; a date alone means midnight UTC).",
            required=True,
        ),
        _c(
            "amount",
            "float64",
            "Order total in `currency`; negative for refunds; sign by `status` (see above).",
            required=True,
        ),
        _c("currency", "string", "ISO 4217 currency code.", required=True, normalise="upper"),
        _c(
            "status",
            "string",
            "Order status.",
            required=True,
            domain=("completed", "returned", "cancelled"),
            normalise="lower",
        ),
        _c("quantity", "int64", "Number of items (not negative).", minimum=0),
        _c("product_id", "string", "Main product of the order."),
        _c(
            "channel",
            "string",
            "Where it was bought.",
            domain=("online", "store", "app"),
            normalise="lower",
        ),
    ),
    one_of=(("customer_id", "email"),),
)

POSTS = TableSchema(
    name="posts",
    meaning=(
        "Social posts and mentions: original posts, replies and reshares, from any "
        "platform. Authors are handles; they are tied to customers only through "
        "identities and the social-linking consent."
    ),
    key=("post_id",),
    columns=(
        _c(
            "post_id",
            "string",
            "Post id, unique (prefix with the platform if ids clash).",
            required=True,
        ),
        _c(
            "platform",
            "string",
            "Network the post is on.",
            required=True,
            domain=POST_PLATFORMS,
            normalise="lower",
        ),
        _c(
            "author_handle",
            "string",
            "Author's handle, normalised per platform.",
            required=True,
            normalise="handle",
        ),
        _c("created_at", "timestamp", "When it was posted.", required=True),
        _c("text", "string", "Post text as published.", required=True),
        _c("lang", "string", "Language code if the platform gives one."),
        _c("reply_to_post_id", "string", "Post this one replies to."),
        _c("reshare_of_post_id", "string", "Post this one reshares (retweet, boost, repost)."),
        _c("likes", "int64", "Likes at collection time.", minimum=0),
        _c("reshares", "int64", "Reshares at collection time.", minimum=0),
        _c("replies", "int64", "Replies at collection time.", minimum=0),
        _c("author_followers", "int64", "Author's followers at collection time.", minimum=0),
        _c("url", "string", "Link to the post."),
        _c("author_name", "string", "Author's display name, if the platform gives one."),
        _c(
            "source",
            "string",
            "Where it was collected (a listening source such as "
            "`mastodon:https://mastodon.social`), if not from a file.",
        ),
        _c("raw_payload", "string", "The item as the source's API returned it (JSON)."),
    ),
)

FOLLOWS = TableSchema(
    name="follows",
    meaning="Who follows whom on a platform: the audience side of the social graph.",
    key=("platform", "follower_handle", "followed_handle"),
    columns=(
        _c("platform", "string", "Network.", required=True, domain=PLATFORMS, normalise="lower"),
        _c("follower_handle", "string", "The follower.", required=True, normalise="handle"),
        _c("followed_handle", "string", "The account followed.", required=True, normalise="handle"),
        _c("since", "timestamp", "When the follow started, if known."),
    ),
)

TOUCHES = TableSchema(
    name="touches",
    meaning=(
        "Contacts through our own channels and the customer's reaction: email sent, "
        "opened, clicked, unsubscribed; SMS; push."
    ),
    key=("touch_id",),
    columns=(
        _c("touch_id", "string", "Event id, unique.", required=True),
        _c("customer_id", "string", "Customer record id.", required=True),
        _c(
            "channel",
            "string",
            "Channel of the touch (`social`: a private message on a social network).",
            required=True,
            domain=("email", "sms", "push", "phone", "mail", "social"),
            normalise="lower",
        ),
        _c("campaign_id", "string", "Campaign the touch belongs to."),
        _c(
            "event",
            "string",
            "What happened.",
            required=True,
            domain=(
                "sent",
                "delivered",
                "open",
                "click",
                "unsubscribe",
                "bounce",
                "complaint",
                "reply",
            ),
            normalise="lower",
        ),
        _c("at", "timestamp", "When it happened.", required=True),
    ),
)

CONSENTS = TableSchema(
    name="consents",
    meaning=(
        "Consent history: each row records a customer granting, refusing or withdrawing "
        "a purpose. The latest row per (customer, purpose) is in force; no row means no "
        "consent."
    ),
    key=("customer_id", "purpose", "recorded_at"),
    columns=(
        _c("customer_id", "string", "Customer record id.", required=True),
        _c(
            "purpose",
            "string",
            "What the consent covers.",
            required=True,
            domain=CONSENT_PURPOSES,
            normalise="lower",
        ),
        _c(
            "status",
            "string",
            "Decision.",
            required=True,
            domain=("granted", "refused", "withdrawn"),
            normalise="lower",
        ),
        _c("recorded_at", "timestamp", "When the decision was recorded.", required=True),
        _c(
            "source",
            "string",
            "Where it was recorded (web form, app, call centre, ...).",
            normalise="lower",
        ),
    ),
)

INPUT_TABLES: dict[str, TableSchema] = {
    t.name: t for t in (CUSTOMERS, IDENTITIES, ORDERS, POSTS, FOLLOWS, TOUCHES, CONSENTS)
}

REJECTS = pa.schema(
    [
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
        pa.field("field", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
        pa.field("rejected_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
"""Every rejected input row, verbatim, with the file, line, field and reason."""


def input_table(name: str) -> TableSchema:
    """The schema of an input table, or a ``KeyError`` that lists the known ones."""
    try:
        return INPUT_TABLES[name]
    except KeyError:
        known = ", ".join(INPUT_TABLES)
        raise KeyError(f"unknown table {name!r}; known tables: {known}") from None

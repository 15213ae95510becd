"""Settings: the one place that reads the environment.

Everything else receives a :class:`Settings` (or calls :func:`get_settings`), so tests
and notebooks can point the library at any workspace without touching ``os.environ``.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

EngineName = Literal["duckdb", "spark"]


class Settings(BaseSettings):
    """socialcrm settings, read from ``SOCIALCRM_*`` environment variables.

    >>> s = Settings(home="/tmp/ws")
    >>> s.warehouse_dir.as_posix()
    '/tmp/ws/warehouse'
    """

    model_config = SettingsConfigDict(env_prefix="SOCIALCRM_", extra="ignore")

    home: Path = Field(
        default=Path("socialcrm-data"), description="Workspace folder (warehouse, app db)."
    )
    engine: EngineName = Field(default="duckdb", description="Where relational work runs.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the app database; default a SQLite file in the workspace.",
    )
    spark_master: str = Field(
        default="local[2]",
        description="Where engine=spark runs: local[N] (in this process), spark://host:port "
        "(a standalone cluster) or sc://host:port (a Spark Connect server; see "
        "docs/architecture.md). The workspace folder must be the same path for all of them.",
    )
    spark_driver_memory: str = Field(
        default="2g",
        pattern=r"^[0-9]+[kKmMgGtT]?$",
        description="Heap of the Spark driver's JVM in a classic session (local[N], where the "
        "executors share it, or spark://), e.g. '8g'. At a million customers local mode "
        "needs more than the default: the graph step collects ten million edges. An sc:// "
        "server has its own (given when it starts).",
    )
    duckdb_threads: int | None = Field(default=None, description="DuckDB threads (default: all).")
    duckdb_memory_limit: str | None = Field(
        default=None, description="DuckDB memory limit, e.g. '4GB' (default: DuckDB's 80%)."
    )

    ingest_max_amount: float = Field(
        default=10_000_000,
        gt=0,
        description="Largest order amount (either sign) that ingestion accepts; larger ones "
        "are rejected as likely typos.",
    )

    calibration_end: date | None = Field(
        default=None,
        description="Last day of the calibration period of value models (default: last order).",
    )
    time_unit: Literal["day", "week"] = Field(
        default="day", description="Time unit of recency and tenure in RFM summaries."
    )

    clv_model: Literal["bgnbd", "paretonbd"] = Field(
        default="bgnbd", description="Purchase model behind P(alive), expected purchases and CLV."
    )
    clv_horizon_days: int = Field(
        default=365, gt=0, description="Horizon of expected purchases, spend and CLV, in days."
    )
    clv_discount_rate: float = Field(
        default=0.10, ge=0, lt=1, description="Annual discount rate of CLV (0.10 = 10% a year)."
    )

    sentiment_analyzer: Literal["lexicon", "embedding"] = Field(
        default="lexicon",
        description="Sentiment of posts: fast rule-based 'lexicon' or the 'embedding' model.",
    )
    listening_catalogue: Path | None = Field(
        default=None,
        description="Brand catalogue (brands, products, competitors) for mentions; default "
        "the workspace's catalogue.json when present.",
    )
    listening_topics: int = Field(
        default=20, gt=1, description="Topics the listening step finds (chosen on the seed-0 demo)."
    )
    listening_refit_topics: bool = Field(
        default=False, description="Refit the topic model on every run instead of reusing it."
    )
    listening_spike_threshold: float = Field(
        default=4.0, gt=0, description="Robust z-score above which a day's volume is a spike."
    )

    # programs: amplification planning, influence maximization, campaigns (issue 7)
    amplifier_seeds: int = Field(
        default=20, gt=0, description="Seeds the amplifiers step chooses (IMM, k)."
    )
    amplifier_model: Literal["learned", "wc", "lt"] = Field(
        default="learned",
        description="Influence model of the amplifiers step: probabilities 'learned' from "
        "reshares (Goyal et al. 2010), weighted cascade 'wc', or linear threshold 'lt'.",
    )
    amplifier_epsilon: float = Field(
        default=0.1, gt=0, lt=0.63, description="IMM's ε: seeds within (1 − 1/e − ε) of optimal."
    )

    # programs: referrals and loyalty rewards (issue 7, parts 4 and 5)
    referral_reward: float = Field(
        default=5.0, ge=0, description="Reward to the referrer per referred sale."
    )
    referral_currency: str = Field(default="USD", description="Currency of referral rewards.")
    referral_window_days: int = Field(
        default=30,
        gt=0,
        description="First-touch link attribution: a buyer's first order within this many "
        "days of their first referral click is referred.",
    )
    loyalty_rules: Path | None = Field(
        default=None,
        description="Loyalty rules TOML (points, caps, tiers); default the shipped rules.",
    )

    # value TRInity and targeting: relationship, composite scores, segments, actions (issue 6)
    relationship_half_life_days: float = Field(
        default=365.0, gt=0, description="Half-life of the recency of sharing (relationship)."
    )
    trinity_weight_transaction: float = Field(
        default=0.5, ge=0, description="Weight of the transaction percentile in the TRInity."
    )
    trinity_weight_relationship: float = Field(
        default=0.2, ge=0, description="Weight of the relationship percentile in the TRInity."
    )
    trinity_weight_influence: float = Field(
        default=0.3, ge=0, description="Weight of the influence percentile in the TRInity."
    )
    targeting_rules: Path | None = Field(
        default=None,
        description="TOML file of value tiers, social segments and actions; default the "
        "rules shipped in socialcrm/targeting/rules.toml.",
    )
    incremental_graph_threshold: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Incremental runs: the graph steps (connecting, amplifiers) are not "
        "rerun while the row counts of the follows and posts their edges come from moved "
        "by at most this share since they last ran (0: rerun on any change, so results "
        "always equal a full run's). Community summaries (value, topics) are always "
        "brought up to date.",
    )
    audience_webhook_secret: str | None = Field(
        default=None,
        description="Shared secret signing audience webhook pushes (HMAC-SHA256); required "
        "to push.",
    )

    # connecting: identity resolution, social graph, influence
    identity_threshold: float = Field(
        default=0.9, gt=0, le=1, description="Match probability at which two records are linked."
    )
    identity_review_floor: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Pairs between this and identity_threshold go to the review queue.",
    )
    incremental_identity_threshold: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Incremental runs: while the customer records added, changed or "
        "removed since the identity model was trained are at most this share of the "
        "records it was trained on, identity resolution scores only the pairs with such a "
        "record, with that model (Splink's incremental matching), and keeps the other "
        "pairs' scores; past it, the model is trained again on all records (0: trained on "
        "every run, so results always equal a full run's).",
    )
    graph_half_life_days: float = Field(
        default=180.0, gt=0, description="Half-life of interactions in the social graph, days."
    )

    phone_region: str = Field(
        default="US",
        description="ISO country whose national format is assumed for phones without a +code.",
    )
    timezone: str = Field(
        default="UTC", description="Time zone of imported timestamps that carry no offset."
    )

    # -- web app and app database (issue 8) --
    web_secret_key: str | None = Field(
        default=None,
        description="Key signing session cookies; default a random key kept in the workspace.",
    )
    web_secure_cookies: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (set behind TLS)."
    )
    web_session_hours: int = Field(default=12, gt=0, description="Sign-in session lifetime.")
    web_max_body_bytes: int = Field(
        default=20 * 1024 * 1024,
        gt=0,
        description="Largest request body the web app reads (413 above it), before any sign-in.",
    )
    web_login_attempts: int = Field(
        default=5, gt=0, description="Failed sign-ins allowed per address and email per window."
    )
    web_login_window_seconds: int = Field(
        default=300, gt=0, description="Window of the sign-in rate limit, in seconds."
    )
    web_token_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a server remembers an API token's owner (0: check every call); "
        "a revoked token may work this long.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For "
        "header is believed, e.g. '127.0.0.1,10.0.0.0/8'. Default none: the peer's address "
        "is the client's (a header anyone can write never picks the rate-limited address).",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        """A comma- or space-separated string or a JSON list (as the variable holds it); each
        entry must be an IP or a CIDR, so a typo fails at start rather than trusting none."""
        import ipaddress
        import json

        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.replace(",", " ").split()
        if isinstance(value, list | tuple):
            for v in value:
                ipaddress.ip_network(str(v).strip(), strict=False)  # ValueError: not an IP
            return [str(v).strip() for v in value]
        return value

    # -- responding: the engagement inbox and connectors (issue 9) --
    inbox_first_response_hours: float = Field(
        default=4.0, gt=0, description="First-response SLA of a conversation, in hours."
    )
    inbox_resolution_hours: float = Field(
        default=48.0, gt=0, description="Resolution SLA of a conversation, in hours."
    )
    inbox_window_hours: float = Field(
        default=72.0,
        gt=0,
        description="Posts by one author on one topic within this window form one conversation.",
    )
    inbox_sync_lookback_days: float = Field(
        default=14.0,
        ge=0,
        description="Each sync re-reads posts this far behind the newest one it saw, so posts "
        "that reach the warehouse late still land (stored ones are skipped by id).",
    )
    inbox_connector: str = Field(
        default="jsonl", description="Where mentions come from: jsonl, mastodon or bluesky."
    )
    inbox_brand_handle: str = Field(
        default="brand", description="The brand's own handle: its posts are replies, not mentions."
    )
    inbox_outbox_attempts: int = Field(
        default=8, gt=0, description="Attempts before an outgoing reply is marked dead."
    )
    inbox_brand_handles: str = Field(
        default="",
        description="More of the brand's own handles, comma-separated (one per network, as "
        "the demo sets); 'platform:handle' counts a handle on that platform only.",
    )
    delivery_interval_seconds: float = Field(
        default=0.0,
        ge=0,
        description="While the web app is served, deliver due outbox replies and webhooks "
        "this often, in the background (0: off; run `socialcrm inbox deliver --watch`).",
    )
    journey_interval_seconds: float = Field(
        default=0.0,
        ge=0,
        description="While the web app is served, run the journeys (enrol, exit, send what "
        "is due) this often, in the background (0: off; run `socialcrm journey run --watch`).",
    )
    delivery_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long a delivery worker holds an outbox item or webhook delivery it "
        "claimed; a worker that dies leaves it to be retried after this.",
    )
    mastodon_url: str | None = Field(default=None, description="Mastodon instance base URL.")
    mastodon_token: SecretStr | None = Field(default=None, description="Mastodon access token.")
    bluesky_url: str = Field(default="https://bsky.social", description="Bluesky PDS base URL.")
    bluesky_appview_url: str = Field(
        default="https://public.api.bsky.app",
        description="Bluesky AppView that resolves handles and reads profiles (no login) "
        "when a person links their Bluesky account in the preference centre.",
    )
    bluesky_handle: str | None = Field(default=None, description="Bluesky account handle.")
    bluesky_app_password: SecretStr | None = Field(
        default=None, description="Bluesky app password (never logged)."
    )

    # -- listening sources (issue 19) --
    listen_interval_seconds: float = Field(
        default=0.0,
        ge=0,
        description="While the web app is served, run every saved query over its sources "
        "this often, in the background (0: off; run `socialcrm listen collect --watch`).",
    )
    listen_max_pages: int = Field(
        default=10, ge=1, description="Pages one listening source reads per run and stream."
    )
    reddit_client_id: str | None = Field(default=None, description="Reddit app client id.")
    reddit_client_secret: SecretStr | None = Field(
        default=None, description="Reddit app client secret (never logged)."
    )

    # -- collaborating: ideas and webhooks (issue 9, parts 3 and 4) --
    idea_duplicate_threshold: float = Field(
        default=0.5, gt=0, le=1, description="TF-IDF cosine at which two ideas look duplicate."
    )
    idea_influencer_followers: int = Field(
        default=10_000, ge=0, description="Followers from which a post's author is an influencer."
    )
    webhook_backoff_seconds: float = Field(
        default=30.0, ge=0, description="First retry delay of a failed webhook; doubles each time."
    )
    webhook_backoff_max_seconds: float = Field(
        default=3600.0, ge=0, description="Longest delay between two webhook attempts."
    )
    webhook_max_attempts: int = Field(
        default=12, gt=0, description="Attempts of one delivery before it is marked failed."
    )
    webhook_disable_after: int = Field(
        default=10, gt=0, description="Consecutive failed attempts that disable a subscription."
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long one webhook request may take."
    )
    outbound_allow_hosts: str = Field(
        default="",
        description="Hosts (names or IP addresses, comma-separated) that webhooks and "
        "audience pushes may call although they are loopback, private or link-local, e.g. "
        "a receiver on this machine: '127.0.0.1,hooks.lan'. Default none. The outbound "
        "guard (socialcrm.outbound.urls) reads the same variable.",
    )

    # -- the last mile: campaigns by email and private messages (issue 18) --
    smtp_url: SecretStr | None = Field(
        default=None,
        description="SMTP server of campaign email: smtp://[user:pass@]host:port (STARTTLS "
        "when the server offers it; ?starttls=require insists), smtps://… for implicit TLS; "
        "?from=brand@example.com sets the From address. A secret: never logged.",
    )
    public_url: str | None = Field(
        default=None,
        description="Public base URL of this app, e.g. https://crm.example.com: the base of "
        "the unsubscribe, click and open links in emails.",
    )
    email_from: str | None = Field(
        default=None,
        description="From address of campaign email (default: the SMTP URL's ?from=).",
    )
    email_rate_per_second: float = Field(
        default=50.0,
        ge=0,
        description="Most emails handed to the SMTP server per second, per sender (0: no "
        "limit); bursts up to one second's worth.",
    )
    email_max_attempts: int = Field(
        default=8, gt=0, description="Attempts of one email before it is marked dead."
    )
    # -- the customer's own side: the preference centre and sign-up forms (issue 20) --
    preference_link_days: int = Field(
        default=90,
        gt=0,
        description="Days a preference-centre link in an email keeps working (a fresh one "
        "can be asked for by email address).",
    )
    signup_confirm_hours: int = Field(
        default=72, gt=0, description="Hours a sign-up's confirmation link keeps working."
    )
    embed_origins: str = Field(
        default="",
        description="Sites allowed to show the sign-up and profile forms in a frame, "
        "comma-separated origins ('https://shop.example'); default none: no page may be "
        "framed (CSP frame-ancestors 'none').",
    )
    brand_name: str | None = Field(
        default=None,
        description="The brand's name on the public pages (default: the catalogue's).",
    )
    bounce_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Bearer secret of POST /email/bounces (DSNs or JSON from the mail "
        "provider); the endpoint refuses everything while it is unset.",
    )

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def catalogue_path(self) -> Path:
        """The brand catalogue: ``listening_catalogue``, else the workspace's own file
        (which may not exist)."""
        return (
            Path(self.listening_catalogue)
            if self.listening_catalogue
            else self.home / "catalogue.json"
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'app.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

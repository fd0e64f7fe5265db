"""The REST API under ``/api/v1``, for scripts and MES integration, with the pages' permissions.

A client gets a bearer token from ``POST /api/v1/token`` (the OAuth 2.0 password grant, RFC
6749 §4.3: the same login, lockout and audit as the login page) and sends it as
``Authorization: Bearer <token>`` (RFC 6750).  Tokens live on the server
(`plantqc.web.tokens`); every request asks the account's role now, as the pages do, so a
disabled account's token stops at once.  Without a valid token a request is refused with 401
and ``WWW-Authenticate: Bearer``, a role without the permission with 403; both refusals are
audited (401 as action ``unauthenticated`` on entity ``api``, under the token's user when it
was known, else ``anonymous``; 403 as `plantqc.store.audit.PERMISSION_DENIED`).  Every error is JSON
``{"detail": "<one sentence>"}``, request validation errors too (`SentenceRoute`).

Every logged-in role may read (alarms, limits, the audit trail: EU GMP Annex 11 §9 wants the
trail reviewable); acting needs the role's permission (`plantqc.users.may`): acknowledging
and shelving alarms, and freezing limits, which is also an electronic signature of meaning
``approved`` with user name and password (21 CFR 11.200(a)(1)) of exactly the numbers frozen
(`plantqc.charting.phase1.estimate_hash`); a refused signature is 403 (the token is still
good) and its wrong password counts toward the lockout like a failed login.

A chart is named ``<line>:<tag>:<chart>`` (e.g. ``casting-1:dry_thickness_um:imr``): config
names are letters, digits, ``_ . -`` (`plantqc.schema.Name`) and chart names the same, so
the colon separates them unambiguously and the key is one path segment as it stands, without
URL-encoding (a ``/`` would need ``%2F``, which proxies and Starlette decode before routing).
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations at run time,
# and the token dependency (`LoggedIn`) is local to `routes`, where a string could not find it

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, model_validator
from sqlalchemy.orm import Session

from plantqc import alarms
from plantqc.alarms import AlarmView
from plantqc.charting.catalog import load_charts
from plantqc.charting.chart import ChartConfig
from plantqc.charting.limits import limit_versions, limits_in_force
from plantqc.charting.names import SeriesSpec
from plantqc.charting.phase1 import estimate_hash, estimate_limits, freeze_limits
from plantqc.errors import UserError
from plantqc.store.audit import AUDIT_PAGE, find_audit, record_audit
from plantqc.store.models import AlarmState, AuditLog, ControlLimits
from plantqc.users import AuthenticationError, authenticate, current_role, may
from plantqc.users.esign import Credentials, sign
from plantqc.users.roles import Action
from plantqc.web.console import Console
from plantqc.web.tokens import TokenRefused

PREFIX = "/api/v1"
TOKEN_URL = f"{PREFIX}/token"
UNAUTHENTICATED = "unauthenticated"
"""The audit action of a request refused for want of a valid token."""
ANONYMOUS = "anonymous"
"""Who a refused request without a known token is audited as."""
ENTITY = "api"
NO_TOKEN = "no token"
MAX_AUDIT = 1000
"""The most audit entries one request returns; a longer review pages with ``offset``."""
ENTITY_ID_MAX = 64
"""``audit_log.entity_id`` is 64 characters; the whole path is in the entry's detail."""

bearer = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    scheme_name="bearer",
    description=f"A token from POST {TOKEN_URL}, sent as 'Authorization: Bearer <token>'.",
    auto_error=False,  # a missing token is refused (and audited) by `routes.caller`
)


# --- errors: one sentence ----------------------------------------------------------------------


class Problem(BaseModel):
    """Every error of the API."""

    detail: str = Field(description="What was wrong, in one sentence.")


def validation_sentence(errors: Sequence[Any]) -> str:
    """Pydantic's errors of a request as one sentence: a model's own check says its sentence,
    a field's error names the field."""
    parts = []
    for error in errors:
        if error["type"] == "json_invalid":
            parts.append("the request body is not valid JSON")
        elif error["type"] == "value_error":
            parts.append(str(error["ctx"]["error"]).rstrip("."))
        else:
            field = ".".join(str(p) for p in error["loc"][1:]) or str(error["loc"][0])
            message = str(error["msg"])
            parts.append(f"{field}: {message[:1].lower()}{message[1:]}".rstrip("."))
    return "; ".join(parts) + "."


class SentenceRoute(APIRoute):
    """A route whose request validation errors are ``{"detail": "<one sentence>"}`` like its
    other errors, not FastAPI's list of error objects: scripts read one field for every
    refusal."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return JSONResponse({"detail": validation_sentence(exc.errors())}, 422)

        return handle


def _problem(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Problem} for code in codes}


# --- request and response bodies ---------------------------------------------------------------


class TokenOut(BaseModel):
    """A bearer token (RFC 6749 §5.1)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token ends at the latest.")


class AlarmOut(BaseModel):
    """One alarm (ISA-18.2 states)."""

    id: int
    line: str
    tag: str | None
    kind: str = Field(description="What raised it: spc, sensor-fault, ...")
    rule: str = Field(description="The alarm code: the rule, e.g. nelson1 or mr:nelson1.")
    priority: str
    state: AlarmState
    count: int = Field(description="How often its condition fired.")
    first_at: datetime
    last_at: datetime
    acked_by: str | None
    shelved_until: datetime | None
    message: str

    @classmethod
    def of(cls, view: AlarmView) -> Self:
        return cls(
            id=view.id,
            line=view.line,
            tag=view.tag,
            kind=view.kind,
            rule=view.code,
            priority=view.priority,
            state=AlarmState(view.state),
            count=view.count,
            first_at=view.first_at,
            last_at=view.last_at,
            acked_by=view.acked_by,
            shelved_until=view.shelved_until,
            message=view.message,
        )


class AckIn(BaseModel):
    comment: str | None = Field(None, description="A note kept with the acknowledgement.")


class ShelveIn(BaseModel):
    """A shelf: until a time, or for some minutes, and why (ISA-18.2 §16.5)."""

    until: AwareDatetime | None = Field(None, description="When the shelf expires.")
    minutes: float | None = Field(None, gt=0, description="Or: for how many minutes from now.")
    reason: str = Field(description="Why the alarm is shelved.")

    @model_validator(mode="after")
    def _checked(self) -> Self:
        if (self.until is None) == (self.minutes is None):
            raise ValueError("a shelf needs its expiry: give either until or minutes")
        if not self.reason.strip():
            raise ValueError("a shelf needs a reason, not a blank one")
        return self

    def expiry(self, now: datetime) -> datetime:
        if self.until is not None:
            return self.until
        assert self.minutes is not None  # _checked
        return now + timedelta(minutes=self.minutes)


class SignatureOut(BaseModel):
    """An electronic signature (21 CFR 11.50): who, their printed name, what it means, when,
    and the SHA-256 of what was signed."""

    user: str
    printed_name: str
    meaning: str
    at: datetime
    time_zone: str
    content_hash: str
    components: int = Field(description="2: user name and password; 1: password only.")


class VersionOut(BaseModel):
    """One limits version of a chart."""

    version: int
    basis: str = Field(description="phase1 (frozen), provisional (learned) or spec (history).")
    center: float | None
    sigma: float | None
    sigma_method: str | None
    lcl: float | None
    ucl: float | None
    valid_from: datetime
    frozen_by: str | None
    frozen_at: datetime | None
    data_from: datetime | None
    data_to: datetime | None
    n_used: int | None
    signature: SignatureOut | None = Field(description="The approval of a frozen version.")

    @classmethod
    def of(cls, row: ControlLimits) -> Self:
        signature = (row.params or {}).get("signature")
        return cls(
            version=row.version,
            basis=row.basis,
            center=row.center,
            sigma=row.sigma,
            sigma_method=row.sigma_method,
            lcl=row.lcl,
            ucl=row.ucl,
            valid_from=row.valid_from,
            frozen_by=row.frozen_by,
            frozen_at=row.frozen_at,
            data_from=row.data_from,
            data_to=row.data_to,
            n_used=row.n_used,
            signature=SignatureOut.model_validate(signature) if signature else None,
        )


class ChartLimitsOut(BaseModel):
    """A chart's limits versions, oldest first, and which one it runs on now."""

    chart: str = Field(description="<line>:<tag>:<chart>, the key of its freeze path.")
    line: str
    tag: str
    series: str = Field(description="The chart: imr, xbar-r, ewma, cusum, cd_mean, ...")
    in_force: int | None = Field(description="The version in force now; null while learning.")
    versions: list[VersionOut]


class FreezeIn(BaseModel):
    """Phase I data to freeze limits from, and the approver's signature components."""

    model_config = ConfigDict(populate_by_name=True)

    start: AwareDatetime = Field(alias="from", description="Start of the phase I data.")
    end: AwareDatetime = Field(alias="to", description="End of the phase I data (exclusive).")
    username: str = Field(description="The signer: the token's own user.")
    password: SecretStr

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start >= self.end:
            raise ValueError(f"from ({self.start}) must be before to ({self.end})")
        return self


class AuditEntryOut(BaseModel):
    """One entry of the audit trail: who did what to which entity, when, with its detail
    (old and new values, a signature, why a request was refused)."""

    id: int
    at: datetime
    user: str
    action: str
    entity: str
    entity_id: str | None
    detail: dict[str, Any] | None

    @classmethod
    def of(cls, row: AuditLog) -> Self:
        return cls(
            id=row.id,
            at=row.at,
            user=row.user,
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            detail=row.detail,
        )


# --- the routes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The user of a request's valid token, with the account's role now."""

    user: str
    role: str


def chart_key(chart: ChartConfig, series: SeriesSpec) -> str:
    """The API's name of one chart of a tag (see the module docstring)."""
    return f"{chart.line}:{chart.tag}:{series.name}"


def routes(console: Console) -> APIRouter:
    """The API's router over ``console``'s store and tokens."""
    router = APIRouter(
        prefix=PREFIX,
        route_class=SentenceRoute,
        responses=_problem(401, 422),
    )
    engine = console.engine
    store = console.tokens

    def refuse(request: Request, user: str | None, reason: str, detail: str) -> HTTPException:
        """The 401 of a request without a valid token, audited under ``user`` (whose the
        token was, when known)."""
        where = f"{request.method} {request.url.path}"
        entry = {"reason": reason, "request": where}
        with Session(engine) as db, db.begin():
            record_audit(
                db, user or ANONYMOUS, UNAUTHENTICATED, ENTITY, where[:ENTITY_ID_MAX], entry
            )
        # RFC 6750 §3.1: no error code when no token came, invalid_token when one failed
        challenge = "Bearer" if reason == NO_TOKEN else 'Bearer error="invalid_token"'
        return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})

    def caller(request: Request, token: Annotated[str | None, Depends(bearer)]) -> Caller:
        if token is None:
            detail = f"log in first: send a token of POST {TOKEN_URL} as a bearer token."
            raise refuse(request, None, NO_TOKEN, detail)
        try:
            user = store.user_of(token)
        except TokenRefused as exc:
            detail = f"the token is unknown or has ended; get a new one from POST {TOKEN_URL}."
            raise refuse(request, exc.user, exc.reason, detail) from None
        role = current_role(engine, user)
        if role is None:
            store.revoke(token)
            detail = f"user {user!r} is disabled or no longer exists."
            raise refuse(request, user, "account disabled", detail)
        return Caller(user, role)

    LoggedIn = Annotated[Caller, Depends(caller)]
    reader = [Depends(caller)]  # a route that any logged-in role may read

    def permitted(who: Caller, action: Action, entity: str, entity_id: object, doing: str) -> str:
        """The caller's user name if the role may take ``action``, else an audited 403."""
        if may(who.role, action):
            return who.user
        console.audit_denied(who.user, who.role, action, entity, entity_id)
        raise HTTPException(403, f"role {who.role!r} may not {doing}.")

    # --- token ---------------------------------------------------------------------------------

    @router.post("/token", tags=["auth"], responses=_problem(401))
    def token(
        form: Annotated[OAuth2PasswordRequestForm, Depends()], response: Response
    ) -> TokenOut:
        """A bearer token for the user name and password (the login page's lockout and
        audit); it ends after its lifetime (``expires_in``) or when idle."""
        try:
            user = authenticate(engine, form.username, form.password, datetime.now(UTC))
        except AuthenticationError as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
        response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1
        return TokenOut(access_token=store.issue(user.name), expires_in=int(store.lifetime_s))

    # --- alarms --------------------------------------------------------------------------------

    def one_alarm(alarm_id: int) -> AlarmOut:
        view = alarms.get_alarm(engine, alarm_id)
        if view is None:
            raise HTTPException(404, f"there is no alarm {alarm_id}.")
        return AlarmOut.of(view)

    @router.get("/alarms", tags=["alarms"], dependencies=reader)
    def list_alarms(
        state: Annotated[AlarmState | None, Query(description="Only alarms in this state.")] = None,
        include_normal: Annotated[bool, Query(description="Closed ones too.")] = False,
        line: Annotated[str | None, Query(description="Only this line's alarms.")] = None,
    ) -> list[AlarmOut]:
        """Alarms, newest activity first; open ones only unless ``include_normal`` or
        ``state=normal``."""
        views = alarms.list_alarms(
            engine, include_normal=include_normal or state == AlarmState.NORMAL
        )
        return [
            AlarmOut.of(v)
            for v in views
            if (state is None or v.state == state) and (line is None or v.line == line)
        ]

    @router.post("/alarms/{alarm_id}/ack", tags=["alarms"], responses=_problem(403, 404, 409))
    def ack(alarm_id: int, who: LoggedIn, body: AckIn | None = None) -> AlarmOut:
        """Acknowledge an alarm as the token's user."""
        user = permitted(who, Action.ALARM_ACK, "alarm", alarm_id, "acknowledge alarms")
        one_alarm(alarm_id)
        comment = (body.comment or "").strip() if body is not None else ""
        try:
            alarms.ack(engine, alarm_id, user, comment or None)
        except UserError as exc:
            raise HTTPException(409, str(exc)) from None
        return one_alarm(alarm_id)

    @router.post("/alarms/{alarm_id}/shelve", tags=["alarms"], responses=_problem(403, 404, 409))
    def shelve(alarm_id: int, who: LoggedIn, body: ShelveIn) -> AlarmOut:
        """Shelve an open alarm until a time in the future, with a reason, as the token's
        user; when the shelf expires it is active-unacknowledged if its condition still
        holds, else normal."""
        user = permitted(who, Action.ALARM_SHELVE, "alarm", alarm_id, "shelve alarms")
        one_alarm(alarm_id)
        try:
            alarms.shelve(
                engine, alarm_id, user, body.expiry(datetime.now(UTC)), body.reason.strip()
            )
        except UserError as exc:
            raise HTTPException(409, str(exc)) from None
        return one_alarm(alarm_id)

    # --- limits --------------------------------------------------------------------------------

    @router.get("/limits", tags=["limits"], dependencies=reader)
    def list_limits() -> list[ChartLimitsOut]:
        """Every chart's limits versions and the one in force now, by line, tag and chart."""
        charts = sorted(load_charts(engine).values(), key=lambda c: (c.line, c.tag))
        rows = limit_versions(engine, [c.tag_id for c in charts])
        found = []
        with Session(engine) as db:
            for chart in charts:
                for series in chart.series:
                    now = limits_in_force(db, chart.tag_id, series.name)
                    found.append(
                        ChartLimitsOut(
                            chart=chart_key(chart, series),
                            line=chart.line,
                            tag=chart.tag,
                            series=series.name,
                            in_force=now.version if now is not None else None,
                            versions=[
                                VersionOut.of(r)
                                for r in rows
                                if r.tag_id == chart.tag_id and r.chart == series.name
                            ],
                        )
                    )
        return found

    def chart_named(key: str) -> tuple[ChartConfig, SeriesSpec]:
        line, _, rest = key.partition(":")
        tag, _, name = rest.partition(":")
        for chart in load_charts(engine).values():
            if (chart.line, chart.tag) == (line, tag):
                for series in chart.series:
                    if series.name == name:
                        return chart, series
        raise HTTPException(
            404,
            f"there is no chart {key!r} (<line>:<tag>:<chart>; GET {PREFIX}/limits lists them).",
        )

    @router.post(
        "/limits/{chart}/freeze",
        tags=["limits"],
        status_code=201,
        responses=_problem(403, 404, 409),
    )
    def freeze(chart: str, who: LoggedIn, body: FreezeIn) -> VersionOut:
        """Estimate phase I limits of the chart from its Good samples in ``[from, to)`` and
        freeze them as its new version, approved by the token's user with an electronic
        signature (user name and password) of exactly these numbers.  A wrong password counts
        as a failed login toward the lockout."""
        user = permitted(who, Action.LIMITS_FREEZE, "control_limits", chart, "freeze limits")
        config, series = chart_named(chart)
        try:
            estimate = estimate_limits(engine, config, body.start, body.end, series)
        except UserError as exc:
            raise HTTPException(409, str(exc)) from None
        credentials = Credentials(body.username, body.password.get_secret_value())
        try:
            signature = sign(
                engine, credentials, "approved", estimate_hash(config, estimate), as_user=user
            )
        except AuthenticationError as exc:
            raise HTTPException(403, f"the signature was refused: {exc}") from None
        version = freeze_limits(engine, config, estimate, user, signature.as_dict())
        [row] = [
            r
            for r in limit_versions(engine, [config.tag_id])
            if r.chart == series.name and r.version == version
        ]
        return VersionOut.of(row)

    # --- the audit trail -----------------------------------------------------------------------

    @router.get("/audit", tags=["audit"], dependencies=reader)
    def audit(
        user: Annotated[str | None, Query(description="Who did it (lower case).")] = None,
        action: Annotated[str | None, Query(description="e.g. alarm-ack, limits-freeze.")] = None,
        entity: Annotated[str | None, Query(description="e.g. alarm, control_limits.")] = None,
        entity_id: Annotated[str | None, Query(description="The entity's id.")] = None,
        start: Annotated[
            AwareDatetime | None, Query(alias="from", description="At or after this time.")
        ] = None,
        end: Annotated[
            AwareDatetime | None, Query(alias="to", description="Before this time.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_AUDIT)] = AUDIT_PAGE,
        offset: Annotated[int, Query(ge=0, description="Entries skipped, for paging.")] = 0,
    ) -> list[AuditEntryOut]:
        """Audit entries matching every filter given, newest first; every logged-in role may
        read the trail (EU GMP Annex 11 §9: it is there to be reviewed)."""
        rows = find_audit(
            engine,
            user=user,
            action=action,
            entity=entity,
            entity_id=entity_id,
            start=start,
            end=end,
            limit=limit,
            offset=offset,
        )
        return [AuditEntryOut.of(row) for row in rows]

    return router

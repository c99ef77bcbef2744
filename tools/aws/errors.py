"""AWS errors translated into a few meaningful product errors.

Every class derives from :class:`tools.errors.TelemetryError`, so a tool turns it into a readable
``status="error"`` result instead of crashing the investigation. Messages name the service, the
operation, the account and Region, the AWS error code, and what to try.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from tools.errors import ContextOverflowError, ModelError, TelemetryError

POLICY_HINT = "print the read-only policy with `rca aws policy --role tools`"
# Which role's policy grants a service's calls (``rca aws policy --role ...``).
ROLE_OF_SERVICE = {
    "Well-Architected": "review",
    "Textract": "review",
    "Bedrock": "agent",
    "Bedrock Agent": "review",
}

_DENIED = frozenset(
    [
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthorizationError",
    ]
)
_CREDENTIALS = frozenset(
    [
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "RequestExpired",
    ]
)
# botocore's own throttling codes (botocore.retries.standard.ThrottlingErrorDetector, the codes
# its retry modes back off on) plus two services' spellings of a rate quota.
_THROTTLED = frozenset(
    [
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "ServiceQuotaExceededException",
        "RateExceeded",
    ]
)
_NOT_FOUND = frozenset(["ResourceNotFoundException", "NoSuchEntity", "NotFoundException"])
_QUERY = frozenset(
    ["MalformedQueryException", "InvalidParameterException", "InvalidParameterValueException"]
)


class AwsError(TelemetryError):
    """An AWS call failed. ``code`` is the AWS error code (or the botocore exception name)."""

    def __init__(
        self,
        message: str,
        *,
        service: str = "",
        operation: str = "",
        code: str = "",
        account: str | None = None,
        region: str | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.operation = operation
        self.code = code
        self.account = account
        self.region = region


class AccessDeniedError(AwsError):
    """The caller lacks a permission (IAM policy, SCP, resource policy, or role trust)."""


class CredentialsError(AwsError):
    """No usable credentials or Region: missing, expired, wrong profile."""


class ThrottledError(AwsError):
    """AWS kept throttling (or, for Bedrock, was briefly unavailable) after botocore's retries.

    The one throttling error of the project: every AWS call anywhere (telemetry reads, Bedrock
    Converse, KB Retrieve, Textract, the WA Tool) that is still throttled after the client's
    retry mode (:func:`tools.aws.session.make_client`, the only call-level retry layer) raises
    this class, never a wrapped copy, so ``except ThrottledError`` catches all of them. The
    message is one line. A unit of work that meets it is not re-run in a loop: the local review
    marks it throttled and resumable; in the cloud the Step Functions ``Retry`` on this class's
    name is the one unit-level layer. ``retryable`` tells generic handlers it may succeed later.
    """

    retryable = True


class NotFoundError(AwsError):
    """A named resource (log group, alarm, role) does not exist in that account and Region."""


class QueryError(AwsError):
    """A query was rejected or failed (malformed, unsupported for the log class, failed run)."""


def _attempts(exc: Exception) -> str:
    """``"N attempts"`` from botocore's ``ResponseMetadata.RetryAttempts`` (the retries it made
    before giving up), else ``"botocore's retries"``."""
    response = getattr(exc, "response", None)
    meta = response.get("ResponseMetadata", {}) if isinstance(response, dict) else {}
    retries = meta.get("RetryAttempts")
    return f"{int(retries) + 1} attempts" if isinstance(retries, int) else "botocore's retries"


def _where(account: str | None, region: str | None) -> str:
    if account or region:
        return f" in {account or 'the default account'}/{region or 'the default Region'}"
    return ""


def translate(
    exc: Exception,
    *,
    service: str,
    operation: str,
    account: str | None = None,
    region: str | None = None,
) -> AwsError:
    """Map a botocore exception to the :class:`AwsError` subclass that says what to do.

    ``service`` is a human name ("CloudWatch Logs"), ``operation`` the API name ("StartQuery").
    Returns the error; the caller raises it ``from exc``.
    """
    where = _where(account, region)

    def make(cls: type[AwsError], message: str, code: str) -> AwsError:
        return cls(
            message, code=code, service=service, operation=operation, account=account, region=region
        )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        detail = str(error.get("Message", "")).strip()
        head = f"{service} {operation}{where} failed ({code}: {detail or 'no message'})"
        for codes, cls, advice in _CLIENT_ERRORS:
            if code in codes:
                role = ROLE_OF_SERVICE.get(service)
                policy = f"print it with `rca aws policy --role {role}`" if role else POLICY_HINT
                text = advice.format(
                    action=_action(service, operation), policy=policy, attempts=_attempts(exc)
                )
                return make(cls, f"{head}; {text}", code)
        return make(AwsError, head, code)
    name = type(exc).__name__
    if isinstance(exc, ProfileNotFound):
        message = f"{service} {operation}: {exc}; list profiles with `aws configure list-profiles`"
        return make(CredentialsError, message, name)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        message = (
            f"{service} {operation}{where}: no AWS credentials found; pass --profile, set "
            "AWS_PROFILE or run `aws sso login`"
        )
        return make(CredentialsError, message, name)
    if isinstance(exc, NoRegionError):
        message = f"{service} {operation}: no Region configured; pass --region or set AWS_REGION"
        return make(CredentialsError, message, name)
    advice = (
        "; check the network path to the AWS endpoint" if isinstance(exc, BotoCoreError) else ""
    )
    return make(AwsError, f"{service} {operation}{where} failed ({name}: {exc}){advice}", name)


# AWS error codes -> (error class, what to do); ``{action}`` is the IAM action of the call.
_CLIENT_ERRORS: list[tuple[frozenset[str], type[AwsError], str]] = [
    (
        _DENIED,
        AccessDeniedError,
        "grant the caller {action} (the assumed role, for reads in other accounts); {policy}",
    ),
    (
        _CREDENTIALS,
        CredentialsError,
        "refresh your credentials (aws sso login / a new session) or pick another --profile",
    ),
    (
        _THROTTLED,
        ThrottledError,
        "AWS kept throttling after {attempts}; wait a minute and retry, or lower the request rate "
        "(a narrower window, fewer components, questions or parallel requests)",
    ),
    (
        _NOT_FOUND,
        NotFoundError,
        "check the name or id, and the account and Region it lives in (for telemetry: the "
        "workspace's rca.* properties and the element's rca.account / rca.region)",
    ),
    (_QUERY, QueryError, "the request was rejected as invalid"),
]


_PREFIX = {
    "CloudWatch Logs": "logs",
    "CloudWatch": "cloudwatch",
    "CloudTrail": "cloudtrail",
    "X-Ray": "xray",
    "STS": "sts",
    "S3": "s3",
    "Well-Architected": "wellarchitected",
    "Textract": "textract",
    "Bedrock": "bedrock",
    "Bedrock Agent": "bedrock",
}


def _action(service: str, operation: str) -> str:
    return f"{_PREFIX.get(service, service.lower())}:{operation}"


def aws_call(
    method: Callable[..., Any],
    *,
    service: str,
    operation: str,
    account: str | None = None,
    region: str | None = None,
    **kwargs: Any,
) -> Any:
    """Call one boto3 client method; a botocore failure becomes the matching :class:`AwsError`
    (raised ``from`` the original), naming the service, operation, account and Region."""
    try:
        return method(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise translate(
            exc, service=service, operation=operation, account=account, region=region
        ) from exc


def raise_if_throttled(
    exc: Exception, *, service: str, operation: str, region: str | None = None
) -> None:
    """Raise the one :class:`ThrottledError` (``from exc``) when ``exc`` is AWS throttling,
    else return. Wrappers that turn other AWS failures into their own error classes (review
    store, WA Tool, Textract, KB Retrieve, session store) call it first, so ``except
    ThrottledError`` catches throttling wherever the call was made."""
    error = translate(exc, service=service, operation=operation, region=region)
    if isinstance(error, ThrottledError):
        raise error from exc


# Bedrock (Converse, ApplyGuardrail, InvokeAgent, the model catalog): codes and message texts ->
# one line naming the model and what to pass. Message texts as Bedrock returns them:
# "The provided model identifier is invalid." (ValidationException); "Invocation of model ID ...
# with on-demand throughput isn't supported. Retry your request with the ID or ARN of an
# inference profile ..." (ValidationException); "This model version has reached the end of its
# life." and "... marked by provider as Legacy ..." (ResourceNotFoundException / AccessDenied).
MODEL_RETRYABLE = frozenset(
    _THROTTLED
    | {"ServiceUnavailableException", "ModelTimeoutException", "ModelNotReadyException"}
)
_MODEL_HINT = "list usable ones with `rca aws models`"


def translate_model(
    exc: Exception,
    model_id: str,
    region: str | None,
    *,
    action: str = "bedrock:InvokeModel",
) -> ModelError | ThrottledError:
    """Map a failed Bedrock call to a one-line :class:`~tools.errors.ModelError`.

    ``model_id`` names what was called (a model id, inference profile or agent); ``action`` is
    the IAM action the call needs. Returns :class:`ContextOverflowError` when the conversation
    no longer fits, and the one :class:`ThrottledError` for throttling and brief unavailability
    (``MODEL_RETRYABLE`` codes) after botocore's retries.
    """
    from botocore.exceptions import EndpointConnectionError

    where = f"{model_id} in {region or 'the default Region'}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ModelError(
            f"no AWS credentials for Bedrock ({where}): pass --profile, set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure`"
        )
    if isinstance(exc, NoRegionError):
        return ModelError("no AWS Region for Bedrock: pass --region or set AWS_REGION")
    if isinstance(exc, ProfileNotFound):
        return ModelError(f"Bedrock: {exc}; list profiles with `aws configure list-profiles`")
    if isinstance(exc, EndpointConnectionError):
        return ModelError(f"cannot reach Bedrock for {where}: check the Region and network")
    if not isinstance(exc, ClientError):
        return ModelError(f"Bedrock call for {where} failed: {exc}")
    code = str(exc.response.get("Error", {}).get("Code", ""))
    message = str(exc.response.get("Error", {}).get("Message", ""))
    low = message.lower().replace("\u2019", "'")
    if "on-demand throughput" in low:
        return ModelError(
            f"{where} cannot be invoked on demand: pass an inference profile id instead (for "
            f"example --model-id us.{model_id} or global.{model_id}); {_MODEL_HINT}"
        )
    if "end of its life" in low or "legacy" in low or "end of life" in low:
        return ModelError(
            f"{where} is legacy / end of life on Bedrock: pass a current --model-id or unset it "
            f"to use the newest model of the family; {_MODEL_HINT}"
        )
    if "model identifier is invalid" in low or "invalid model identifier" in low:
        return ModelError(
            f"{where} is not a valid model identifier here: pass --model-id with a model or "
            f"inference profile id of this Region; {_MODEL_HINT}"
        )
    if code in _DENIED:
        return ModelError(
            f"access denied to {where}: allow {action} for this identity (and enable model "
            "access in the Bedrock console)"
        )
    if code in MODEL_RETRYABLE:
        return ThrottledError(
            f"Bedrock {code} for {where} after {_attempts(exc)}: retry later, use a "
            "cross-Region inference profile, or ask for a higher tokens-per-minute quota",
            service="Bedrock",
            operation=str(getattr(exc, "operation_name", "") or ""),
            code=code,
            region=region,
        )
    if code == "ValidationException" and "exceeds the model limit" in low:
        return ModelError(f"maxTokens is above the output limit of {where}: {message[:200]}")
    if code == "ValidationException" and any(
        w in low for w in ("too long", "context", "too many tokens", "input is too long")
    ):
        return ContextOverflowError(
            f"the request no longer fits the context of {where}: ask about fewer components, "
            "lower --max-steps, or use a smaller unit of work"
        )
    if code in _NOT_FOUND:
        return ModelError(f"{where} not found: check --model-id and the Region; {_MODEL_HINT}")
    return ModelError(f"Bedrock {code} for {where}: {message[:200]}")

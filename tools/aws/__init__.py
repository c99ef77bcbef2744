"""AWS access for the RCA tools: one small wrapper per service, sessions and errors.

- :mod:`tools.aws.session`: boto3 sessions per account and Region (profile, Region, cross-account
  role assumption with cached, auto-refreshing credentials; adaptive retries);
- :mod:`tools.aws.logs_insights`: CloudWatch Logs Insights (``pattern``, ``diff``, binned counts);
- :mod:`tools.aws.log_events`: CloudWatch Logs FilterLogEvents (``rca capture`` only);
- :mod:`tools.aws.cloudwatch`: CloudWatch metrics and alarm history;
- :mod:`tools.aws.cloudtrail`: CloudTrail LookupEvents with the 2 requests/s limit;
- :mod:`tools.aws.xray`: the X-Ray service graph (observed edges) and trace segments as spans;
- :mod:`tools.aws.transaction_search`: CloudWatch Transaction Search spans (``aws/spans``);
- :mod:`tools.aws.spans`: which span source to read (:func:`~tools.aws.spans.read_spans`), over
  the shared shapes of :mod:`tools.aws.span_rows`;
- :mod:`tools.aws.replay`: clients that answer the same API calls from an incident bundle
  (offline tests, benchmarks, dry runs);
- :mod:`tools.aws.errors`: the one table of AWS error codes to error classes and advice
  (``translate`` for every service, ``translate_model`` for Bedrock model calls);
- :mod:`tools.aws.models`: which Bedrock model to call (never hard-coded) and what each model
  family accepts (output limit, ``toolResult.status``, forced tool);
- :mod:`tools.aws.iam`: the IAM policy of each role (``rca aws policy --role ...``).

Clients are built by :func:`tools.aws.session.make_client` only (adaptive retries, timeouts
sized per service, user agent).

Every wrapper takes an injected boto3 client (or anything with the same methods) and, where it
waits, an injected ``sleep``; none creates clients itself. The telemetry wrappers share
:class:`tools.aws.session.LocatedWrapper` (client, :class:`~tools.aws.session.Location`, calls
through :func:`tools.aws.errors.aws_call`).

Conventions of every module here: ``start`` / ``end`` (and any other ``datetime``) are read as
UTC (:func:`tools.models.to_utc`: aware values are converted, naive ones taken as UTC) and a
window is half-open, ``[start, end)``; names ending in ``_s`` are seconds, ``_ms`` milliseconds
and ``_ns`` nanoseconds since the Unix epoch; a failed call raises the
:class:`~tools.aws.errors.AwsError` subclass :func:`tools.aws.errors.translate` picks
(``AccessDeniedError``, ``ThrottledError``, ``CredentialsError``, ``NotFoundError``, ...) unless a
function says it turns failures into gap lines instead. Every AWS limit a wrapper respects is
cited with its source (API reference or user guide) in that module's docstring.
"""

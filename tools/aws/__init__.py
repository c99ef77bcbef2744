"""AWS access for the RCA tools: one small wrapper per service, sessions and errors.

- :mod:`tools.aws.session`: boto3 sessions per account and Region (profile, Region, cross-account
  role assumption with cached, auto-refreshing credentials; adaptive retries);
- :mod:`tools.aws.logs_insights`: CloudWatch Logs Insights (``pattern``, ``diff``, binned counts);
- :mod:`tools.aws.log_events`: CloudWatch Logs FilterLogEvents (``rca capture`` only);
- :mod:`tools.aws.cloudwatch`: CloudWatch metrics and alarm history;
- :mod:`tools.aws.cloudtrail`: CloudTrail LookupEvents with the 2 requests/s limit;
- :mod:`tools.aws.xray`: the X-Ray service graph (observed edges);
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
waits, an injected ``sleep``; none creates clients itself.
"""

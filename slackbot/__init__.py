"""The Slack app (Bolt for Python), a thin surface over :mod:`agent.service` and
:mod:`reviews.service`: Socket Mode locally (``rca slack serve``), HTTP on Lambda in the cloud
(:mod:`slackbot.lambda_handler`), alarm-started investigations (:mod:`slackbot.alarms`)."""

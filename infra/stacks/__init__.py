"""One CDK stack per concern: tools, agent, knowledge base, reviews, Slack, alarms, and the
read-only role template for workload accounts."""

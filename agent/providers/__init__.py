"""Model providers of the investigation loop, one file each behind
:class:`agent.providers.base.ModelProvider`: the offline heuristic investigator, Amazon Bedrock
Converse (tool use), and a scripted provider that replays recorded turns."""

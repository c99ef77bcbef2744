"""The investigation engine (DESIGN.md "Agent loop").

:mod:`agent.service` is the one entry point every surface calls (start, follow up, get; typed
progress events); :mod:`agent.loop` runs the ReAct loop over a model provider
(:mod:`agent.providers`: heuristic, Bedrock Converse, scripted); :mod:`agent.scoring` re-ranks
and annotates the hypotheses; :mod:`agent.sessions` stores investigations (SQLite, DynamoDB)
with version-checked writes; :mod:`agent.view` is the one view model every renderer reads;
:mod:`agent.untrusted` wraps tool output as data for the model.
"""

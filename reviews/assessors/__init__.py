"""Assessors: the heuristic assessor (embedded default) and Bedrock Converse (AWS)."""

"""The Well-Architected review pipeline (DESIGN.md "What the product does", 2).

:mod:`reviews.service` is the one entry point every surface calls (submit, extract, assess one
question, finalize, plan, apply, chat). Extraction: :mod:`reviews.extract` (pdfplumber) or
:mod:`reviews.textract`; guidance retrieval with metadata filters: :mod:`reviews.retrieve`
(local BM25 or a Bedrock Knowledge Base); assessment: :mod:`reviews.assess` and
:mod:`reviews.assessors`; :mod:`reviews.runner` runs units with bounded parallelism and
checkpoints; :mod:`reviews.watool` plans (and, with consent, applies) the WA Tool pre-fill;
:mod:`reviews.report` and :mod:`reviews.chat` present the result; :mod:`reviews.store` keeps
review state (SQLite, or DynamoDB and S3).
"""

"""The AWS CDK app of the cloud world (see ``infra/app.py`` and README "Deploy")."""

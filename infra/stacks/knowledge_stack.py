"""Lens guidance in S3 (``rca lens export-kb`` output with metadata sidecars) and a Bedrock
Knowledge Base over it with an Amazon S3 Vectors index (L1 resources: there is no L2)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_s3vectors as s3vectors
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.config import InfraConfig
from infra.stacks.common import acknowledge, where

GUIDANCE_PREFIX = "guidance/"
# Bedrock stores the chunk text and its metadata under these keys; S3 Vectors limits filterable
# metadata to 2 KB per vector, so they must be non-filterable (Bedrock user guide, "Use S3
# Vectors with a knowledge base").
NON_FILTERABLE = ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"]


def guidance_digest(guidance: Path) -> str:
    """SHA-256 (hex) over the exported guidance: every file's relative path and bytes, in path
    order. It changes exactly when a deployment would change the guidance objects."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in guidance.rglob("*") if p.is_file()):
        digest.update(path.relative_to(guidance).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


class KnowledgeStack(Stack):
    """Guidance bucket + deployment, S3 vector bucket and index, Knowledge Base and its S3
    data source, and the ingestion: a custom resource calls bedrock-agent
    ``StartIngestionJob`` (``knowledgeBaseId``, ``dataSourceId``, ``clientToken`` = the
    guidance digest, so a retried call is not run twice) once the guidance is in S3, on the
    first deploy and again on every deploy that changes the guidance (the digest is part of
    the call, so CloudFormation updates the resource). The job runs asynchronously after the
    deploy (minutes); its status is ``aws bedrock-agent list-ingestion-jobs``."""

    def __init__(
        self, scope: Construct, id: str, *, config: InfraConfig, guidance: Path, **kwargs: object
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        p = config.prefix
        kb = config.knowledge_base
        self.bucket = s3.Bucket(
            self,
            "guidance",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=False,
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "holds only the public lens guidance notes generated from this repository at "
            "deploy time; nothing is uploaded by users",
        )
        deployment = s3deploy.BucketDeployment(
            self,
            "deploy-guidance",
            sources=[s3deploy.Source.asset(str(guidance))],
            destination_bucket=self.bucket,
            destination_key_prefix=GUIDANCE_PREFIX,
            retain_on_delete=False,
        )
        handler = self.node.find_child(
            next(
                c.node.id
                for c in self.node.children
                if c.node.id.startswith("Custom::CDKBucketDeployment")
            )
        )
        for rule, reason in (
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "the CDK BucketDeployment handler (a CDK-managed "
                "singleton) only writes its own logs with the basic execution policy",
            ),
            (
                "AwsSolutions-L1",
                "the CDK BucketDeployment handler's runtime is pinned by "
                "aws-cdk-lib; it runs only during deployments",
            ),
        ):
            acknowledge(handler, rule, reason)
        handler_policy = handler.node.find_child("ServiceRole").node.find_child("DefaultPolicy")
        for rule, reason in (
            ("Action::s3:GetObject*", "the CDK BucketDeployment handler reads the staged asset"),
            ("Action::s3:GetBucket*", "the same asset read grant (bucket metadata)"),
            ("Action::s3:List*", "the same asset read grant (listing the asset)"),
            ("Action::s3:DeleteObject*", "the handler replaces the guidance objects it deployed"),
            ("Action::s3:Abort*", "the handler aborts its own failed multipart uploads"),
            (
                "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-{1}-{0}/*".format(
                    *where(self)
                ),
                "objects of the CDK bootstrap asset bucket (the staged asset)",
            ),
            (
                f"Resource::<{self.get_logical_id(self.bucket.node.default_child)}.Arn>/*",  # type: ignore[arg-type]
                "objects of the guidance bucket this stack owns",
            ),
        ):
            acknowledge(handler_policy, f"AwsSolutions-IAM5[{rule}]", reason)

        vectors = s3vectors.CfnVectorBucket(
            self, "vectors", vector_bucket_name=f"{p}-guidance-vectors"
        )
        index = s3vectors.CfnIndex(
            self,
            "index",
            index_name="guidance",
            vector_bucket_name=f"{p}-guidance-vectors",
            data_type="float32",
            dimension=kb.dimensions,
            distance_metric="cosine",
            metadata_configuration=s3vectors.CfnIndex.MetadataConfigurationProperty(
                non_filterable_metadata_keys=NON_FILTERABLE
            ),
        )
        index.node.add_dependency(vectors)
        embedding = (
            f"arn:{self.partition}:bedrock:{self.region}::foundation-model/{kb.embedding_model}"
        )
        role = iam.Role(
            self,
            "kb-role",
            role_name=f"{p}-knowledge-base",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
        )
        role.add_to_policy(iam.PolicyStatement(sid="Embed", actions=["bedrock:InvokeModel"],
                                               resources=[embedding]))  # fmt: skip
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListGuidance", actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadGuidance",
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(f"{GUIDANCE_PREFIX}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="Vectors",
                actions=[
                    "s3vectors:PutVectors",
                    "s3vectors:GetVectors",
                    "s3vectors:DeleteVectors",
                    "s3vectors:QueryVectors",
                    "s3vectors:GetIndex",
                ],
                resources=[index.attr_index_arn],
            )
        )
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::<{self.get_logical_id(self.bucket.node.default_child)}"  # type: ignore[arg-type]
            f".Arn>/{GUIDANCE_PREFIX}*]",
            "the guidance documents and their metadata sidecars under guidance/ (one object per "
            "best practice)",
        )
        self.knowledge_base = bedrock.CfnKnowledgeBase(
            self,
            "kb",
            name=f"{p}-lens-guidance",
            description="Well-Architected lens guidance notes with lens/pillar/question metadata",
            role_arn=role.role_arn,
            knowledge_base_configuration=bedrock.CfnKnowledgeBase.KnowledgeBaseConfigurationProperty(
                type="VECTOR",
                vector_knowledge_base_configuration=bedrock.CfnKnowledgeBase.VectorKnowledgeBaseConfigurationProperty(
                    embedding_model_arn=embedding,
                    embedding_model_configuration=bedrock.CfnKnowledgeBase.EmbeddingModelConfigurationProperty(
                        bedrock_embedding_model_configuration=bedrock.CfnKnowledgeBase.BedrockEmbeddingModelConfigurationProperty(
                            dimensions=kb.dimensions, embedding_data_type="FLOAT32"
                        )
                    ),
                ),
            ),
            storage_configuration=bedrock.CfnKnowledgeBase.StorageConfigurationProperty(
                type="S3_VECTORS",
                s3_vectors_configuration=bedrock.CfnKnowledgeBase.S3VectorsConfigurationProperty(
                    index_arn=index.attr_index_arn
                ),
            ),
        )
        self.knowledge_base.node.add_dependency(role)
        self.data_source = bedrock.CfnDataSource(
            self,
            "source",
            knowledge_base_id=self.knowledge_base.attr_knowledge_base_id,
            name="lens-guidance",
            data_source_configuration=bedrock.CfnDataSource.DataSourceConfigurationProperty(
                type="S3",
                s3_configuration=bedrock.CfnDataSource.S3DataSourceConfigurationProperty(
                    bucket_arn=self.bucket.bucket_arn, inclusion_prefixes=[GUIDANCE_PREFIX]
                ),
            ),
        )
        self.knowledge_base_id = self.knowledge_base.attr_knowledge_base_id
        self.knowledge_base_arn = self.knowledge_base.attr_knowledge_base_arn
        self.digest = guidance_digest(guidance)
        self.ingestion = self._ingest(deployment)
        CfnOutput(self, "KnowledgeBaseId", value=self.knowledge_base_id)
        CfnOutput(self, "DataSourceId", value=self.data_source.attr_data_source_id)

    def _ingest(self, deployment: s3deploy.BucketDeployment) -> cr.AwsCustomResource:
        """``StartIngestionJob`` after the guidance deployment, re-run when the guidance
        digest changes (request shape: Bedrock API reference, "StartIngestionJob")."""
        call = cr.AwsSdkCall(
            service="bedrock-agent",
            action="StartIngestionJob",
            parameters={
                "knowledgeBaseId": self.knowledge_base_id,
                "dataSourceId": self.data_source.attr_data_source_id,
                "clientToken": self.digest,  # 64 hex characters (33-256 allowed)
                "description": f"lens guidance sha256:{self.digest[:16]}",
            },
            physical_resource_id=cr.PhysicalResourceId.of(f"guidance-{self.digest[:16]}"),
        )
        ingestion = cr.AwsCustomResource(
            self,
            "ingest-guidance",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        sid="StartIngestion",
                        actions=["bedrock:StartIngestionJob"],
                        resources=[self.knowledge_base_arn],
                    )
                ]
            ),
            install_latest_aws_sdk=False,  # the Lambda runtime's SDK has bedrock-agent
        )
        ingestion.node.add_dependency(deployment)
        ingestion.node.add_dependency(self.data_source)
        provider = next(c for c in self.node.children if c.node.id.startswith("AWS679f53fa"))
        for rule, reason in (
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "the CDK AwsCustomResource provider (a CDK-managed singleton) writes only its own "
                "logs with the basic execution policy",
            ),
            (
                "AwsSolutions-L1",
                "the CDK AwsCustomResource provider's runtime is pinned by aws-cdk-lib; it runs "
                "only during deployments",
            ),
        ):
            acknowledge(provider, rule, reason)
        return ingestion

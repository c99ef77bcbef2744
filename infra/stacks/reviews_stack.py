"""The review pipeline: upload bucket -> EventBridge -> Step Functions over Lambda tasks."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.config import InfraConfig
from infra.policies import Value, grant, stack_values
from infra.stacks.common import (
    acknowledge,
    acknowledge_model_regions,
    acknowledge_secret,
    lambda_role,
    log_group,
    python_function,
    where,
)

UPLOAD_PREFIX = "uploads/"
REPORTS_PREFIX = "reports/"
THROTTLE_ERRORS = ["ThrottledError", "Lambda.TooManyRequestsException"]
"""Error names the assess task retries: the class name of :class:`tools.aws.errors.ThrottledError`
(the Lambda runtime reports an exception's class name as the error name; a test checks the
handler raises exactly this class) and Lambda's own invocation throttle."""
RETRY = {"interval_s": 2, "backoff_rate": 2.0, "max_attempts": 6, "max_delay_s": 60}
"""Assess-task retry on throttling: 2, 4, 8, 16, 32, 60 s ceilings, full jitter (Step Functions
``JitterStrategy: FULL``), 6 retries. This is the cloud's one unit-level retry layer, above
botocore's per-call retry mode inside the task; the task itself never re-runs a question."""
TASKS = ("submit", "extract", "questions", "assess", "mark_failed", "finalize", "plan", "apply",
         "notify")  # fmt: skip


class ReviewsStack(Stack):
    """Upload bucket (KMS, TLS only, versioned, lifecycle, access logs), review table, one
    Lambda per task (handler ``reviews.handlers.<task>``) and the state machine."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: InfraConfig,
        source: Path,
        knowledge_base_id: str | None = None,
        slack_secret_arn: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        p = config.prefix
        self.key = kms.Key(
            self, "key", enable_key_rotation=True, alias=f"alias/{p}-reviews",
            removal_policy=RemovalPolicy.DESTROY,
        )  # fmt: skip
        access_logs = s3.Bucket(
            self,
            "access-logs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=False,
        )
        acknowledge(
            access_logs,
            "AwsSolutions-S1",
            "this is the server access log bucket of the upload bucket; logging it to itself "
            "would loop",
        )
        self.bucket = s3.Bucket(
            self,
            "uploads",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="uploads-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="uploads",
                    prefix=UPLOAD_PREFIX,
                    expiration=Duration.days(config.reviews.upload_retention_days),
                ),
                s3.LifecycleRule(
                    id="old-versions",
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        # EventBridge notifications set on the bucket resource itself (CloudFormation
        # NotificationConfiguration), not through CDK's notifications custom resource.
        self.bucket.node.default_child.add_property_override(  # type: ignore[union-attr]
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        self.table = dynamodb.Table(
            self,
            "reviews",
            table_name=f"{p}-reviews",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        env = {
            "RCA_REVIEW_TABLE": self.table.table_name,
            "RCA_REVIEW_BUCKET": self.bucket.bucket_name,
            "RCA_REVIEW_ASSESSOR": "bedrock",
            "RCA_REVIEW_EXTRACTOR": "textract" if config.reviews.textract else "pdfplumber",
            "RCA_MODEL_ID": config.model.id,
            "RCA_REVIEW_REPORTS": f"s3://{self.bucket.bucket_name}/{REPORTS_PREFIX}",
            "RCA_WATOOL_WRITES": "true" if config.watool_writes else "false",
            "RCA_SLACK_CHANNEL": config.slack.channel,
        }
        if knowledge_base_id:
            env["RCA_REVIEW_KB_ID"] = knowledge_base_id
        if slack_secret_arn and config.slack.enabled:
            env["RCA_SLACK_SECRET_ID"] = slack_secret_arn
        self.functions: dict[str, lambda_.Function] = {}
        self.statements: dict[str, list[dict[str, object]]] = {}
        values: dict[str, Value] = {
            **stack_values(self, config),
            "ReviewBucket": self.bucket.bucket_name,
            "ReviewPrefix": "",
            "ReviewKeyId": self.key.key_id,
            "ReviewsTable": self.table.table_name,
            "KnowledgeBaseId": knowledge_base_id,
            "SlackSecretName": f"{p}/slack" if slack_secret_arn else None,
        }
        for task in TASKS:
            if task == "apply" and not config.watool_writes:
                continue
            log = log_group(self, f"{task}-logs", config)
            role = lambda_role(self, f"{task}-role", f"{p}-review-{task.replace('_', '-')}", log)
            self.statements[task] = grant(role, f"review-{task}", values)
            self.functions[task] = python_function(
                self,
                f"{task}-fn",
                config=config,
                handler=f"reviews.handlers.{task}",
                source=source,
                role=role,
                log=log,
                service=f"rca-review-{task}",
                environment=env,
                timeout_s=900 if task in ("extract", "assess", "finalize", "apply") else 120,
                memory_mb=1536 if task in ("extract", "assess", "finalize") else 512,
                function_name=f"{p}-review-{task.replace('_', '-')}",
            )
            policy = role.node.find_child("DefaultPolicy")
            if task in ("submit", "extract", "assess", "finalize", "plan", "apply", "notify"):
                bucket_id = self.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
                acknowledge(
                    policy,
                    f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::<{bucket_id}>/*]",
                    "objects of this deployment's review bucket: uploaded PDFs, Textract "
                    "input, extracted text and reports, keyed by review id at run time",
                )
            if task in ("assess", "finalize"):
                acknowledge_model_regions(policy, config)
            if task == "apply":
                acknowledge(
                    policy,
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:wellarchitected:{}:{}:"
                    "workload/*]".format(*where(self)),
                    "the WA Tool workload of a review is found or created at run time "
                    "(ListWorkloads/CreateWorkload), so its id is not known at deploy time",
                )
            if task == "notify" and slack_secret_arn:
                acknowledge_secret(policy, self, config)
        self.state_machine = self._state_machine(config)
        events.Rule(
            self,
            "on-upload",
            description="start a review when a PDF lands under uploads/",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.bucket.bucket_name]},
                    "object": {"key": [{"prefix": UPLOAD_PREFIX}]},
                },
            ),
            targets=[targets.SfnStateMachine(self.state_machine)],
        )
        CfnOutput(self, "UploadBucket", value=self.bucket.bucket_name)
        CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn)

    def _task(self, name: str) -> tasks.LambdaInvoke:
        return tasks.LambdaInvoke(
            self,
            f"task-{name}",
            state_name=name,
            lambda_function=self.functions[name],
            payload_response_only=True,
            retry_on_service_exceptions=True,
        )

    def _state_machine(self, config: InfraConfig) -> sfn.StateMachine:
        assess = self._task("assess")
        assess.add_retry(
            errors=THROTTLE_ERRORS,
            interval=Duration.seconds(RETRY["interval_s"]),  # type: ignore[arg-type]
            backoff_rate=RETRY["backoff_rate"],
            max_attempts=RETRY["max_attempts"],  # type: ignore[arg-type]
            max_delay=Duration.seconds(RETRY["max_delay_s"]),  # type: ignore[arg-type]
            jitter_strategy=sfn.JitterType.FULL,
        )
        mark_failed = self._task("mark_failed")
        assess.add_catch(mark_failed, errors=["States.ALL"], result_path="$.error")
        each = sfn.Map(
            self,
            "assess-each",
            state_name="assess_each_question",
            items_path="$.questions",
            max_concurrency=config.reviews.max_concurrency,
            item_selector={
                "review_id": sfn.JsonPath.string_at("$.review_id"),
                "question_id": sfn.JsonPath.string_at("$$.Map.Item.Value"),
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        each.item_processor(assess)
        notify = self._task("notify")
        plan = self._task("plan")
        if "apply" in self.functions:
            apply = self._task("apply")
            decide = (
                sfn.Choice(self, "apply?", state_name="apply_requested")
                .when(sfn.Condition.boolean_equals("$.apply", True), apply.next(notify))
                .otherwise(notify)
            )
            after_plan: sfn.IChainable = decide
        else:
            after_plan = notify
        definition = (
            self._task("submit")
            .next(self._task("extract"))
            .next(self._task("questions"))
            .next(each)
            .next(self._task("finalize"))
            .next(plan)
            .next(after_plan)
        )
        log = log_group(self, "state-machine-logs", config)
        machine = sfn.StateMachine(
            self,
            "review",
            state_machine_name=f"{config.prefix}-review",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            tracing_enabled=True,
            timeout=Duration.hours(6),
            logs=sfn.LogOptions(destination=log, level=sfn.LogLevel.ALL),
        )
        policy = machine.role.node.find_child("DefaultPolicy")
        for fn in self.functions.values():
            logical = self.get_logical_id(fn.node.default_child)  # type: ignore[arg-type]
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::<{logical}.Arn>:*]",
                "the state machine invokes any version of its own task functions (CDK grant)",
            )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray trace writes and CloudWatch Logs log delivery (CreateLogDelivery, ...) "
            "support no resource-level permissions",
        )
        return machine

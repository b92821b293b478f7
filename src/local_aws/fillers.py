"""What moto's CloudFormation skips, created from the same translated template through moto's service APIs:
Glue, Athena, Firehose, Cognito, policies, alarms, the dashboard, SSM parameters, HTTP APIs, auto scaling,
schedules and the bucket's notifications (a mixin of LocalStack)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from local_aws import firehose as local_firehose
from local_aws.stack_support import ACCOUNT_ID, POLICY_NOTE, StandIn


class ResourceFillers:
    # ------------------------------------------------------------------ what moto's CloudFormation skips

    def _fillers(self) -> dict[str, Callable[[str, dict[str, Any]], tuple[StandIn, str]]]:
        return {
            "AWS::KinesisFirehose::DeliveryStream": self._firehose_stream,
            "AWS::Glue::Database": self._glue_database,
            "AWS::Glue::Table": self._glue_table,
            "AWS::Athena::WorkGroup": self._athena_workgroup,
            "AWS::Athena::NamedQuery": self._named_query,
            "AWS::S3::BucketPolicy": self._bucket_policy,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::SNS::TopicPolicy": self._topic_policy,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::CloudWatch::Dashboard": self._dashboard,
            "AWS::SSM::Parameter": self._ssm_parameter,
            "AWS::Logs::LogStream": self._log_stream,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::ApiGatewayV2::Api": self._http_api,
            "AWS::ApiGatewayV2::Stage": self._http_api_stage,
            "AWS::ApplicationAutoScaling::ScalableTarget": self._scalable_target,
            "AWS::ApplicationAutoScaling::ScalingPolicy": self._scaling_policy,
            "AWS::Scheduler::Schedule": self._schedule,
            "AWS::Cognito::UserPool": self._user_pool,
            "AWS::Cognito::UserPoolClient": self._precreated_resource,
            "AWS::Cognito::UserPoolUser": self._user_pool_user,
        }

    def _precreated_resource(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        return self._precreated[
            lid
        ], "created through moto's Cognito API before the stack (its CloudFormation has no Cognito)"

    def _user_pool(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        """The pool made before the stack gets the template's settings now that they are resolved: password
        policy, invitation, recovery, and two-factor sign-in (TOTP) as ConsoleMfa says."""
        stand_in, note = self._precreated_resource(lid, props)
        idp = self.client("cognito-idp")
        keys = ("Policies", "AdminCreateUserConfig", "AutoVerifiedAttributes", "AccountRecoverySetting")
        idp.update_user_pool(UserPoolId=stand_in.physical_resource_id, **{k: props[k] for k in keys if k in props})
        mfa = props.get("MfaConfiguration", "OFF")
        idp.set_user_pool_mfa_config(
            UserPoolId=stand_in.physical_resource_id,
            MfaConfiguration=mfa,
            **(
                {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
                if "SOFTWARE_TOKEN_MFA" in props.get("EnabledMfas", [])
                else {}
            ),
        )
        return stand_in, f"{note}; settings applied, two-factor sign-in {mfa} (TOTP codes checked)"

    def _user_pool_user(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        """AdminCreateUser, and what Cognito does inside it: the pool's custom message trigger writes the
        invitation (kept in `invitations`; no e-mail leaves), and a trigger Cognito may not invoke fails the user,
        and with it the deploy (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-custom-message.html)."""
        attributes = props.get("UserAttributes", [])
        self.client("cognito-idp").admin_create_user(
            UserPoolId=props["UserPoolId"],
            Username=props["Username"],
            UserAttributes=attributes,
            MessageAction="SUPPRESS",  # moto would send nothing either way; the trigger's message is kept below
        )
        pool_lid = self.cfn_template["Resources"][lid]["Properties"]["UserPoolId"].get("Ref", "")
        trigger = (self.cfn_template["Resources"].get(pool_lid, {}).get("Properties", {}).get("LambdaConfig", {})).get(
            "CustomMessage"
        )
        if not trigger:
            return StandIn(props["Username"]), "created; the pool has no custom message trigger"
        function_lid = trigger["Fn::GetAtt"][0] if isinstance(trigger.get("Fn::GetAtt"), list) else ""
        by_name = {a["Name"]: a["Value"] for a in attributes}
        self.invitations.append(
            self._custom_message(lid, pool_lid, function_lid, props["UserPoolId"], props["Username"], by_name)
        )
        return StandIn(props["Username"]), "created; the invitation written by the pool's trigger is kept"

    def _custom_message(
        self, lid: str, pool_lid: str, function_lid: str, pool_id: str, username: str, attributes: dict[str, str]
    ) -> dict[str, str]:
        """Cognito invokes the trigger while CloudFormation creates `lid`: what it needs must be created before
        `lid`, i.e. be among its dependencies (anything else CloudFormation may create later, or at the same
        time). Two rules follow, each a first deploy rolled back in AWS:
        - Cognito may invoke the function only through a Lambda::Permission for cognito-idp.amazonaws.com
          (https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-working-with-lambda-triggers.html);
        - the function's first invocation creates its log group /aws/lambda/<name>, and the template's LogGroup of
          that name then fails as already existing
          (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html)."""
        from local_aws.iam.operations import Need
        from local_aws.template import created_before

        resources = self.cfn_template["Resources"]
        before = created_before(self.dependencies, lid)
        function = self.client("lambda").get_function_configuration(FunctionName=self._physical(function_lid))
        permissions = [
            p
            for p, r in resources.items()
            if r["Type"] == "AWS::Lambda::Permission"
            and r["Properties"].get("Principal") == "cognito-idp.amazonaws.com"
            and f'"{function_lid}"' in json.dumps(r["Properties"].get("FunctionName"))  # Ref or GetAtt of it
        ]
        log_groups = [
            g
            for g, r in resources.items()
            if r["Type"] == "AWS::Logs::LogGroup" and "${" + function_lid + "}" in json.dumps(r["Properties"])
        ]
        unsure = [p for p in permissions + log_groups if p not in before] + (
            [] if permissions else [f"a Lambda::Permission for cognito-idp.amazonaws.com on {function_lid}"]
        )
        if unsure:
            raise RuntimeError(
                f"{lid} CREATE_FAILED: Cognito runs the custom message trigger {function_lid} inside AdminCreateUser, "
                f"and CloudFormation may create {lid} before {', '.join(unsure)} (no dependency between them): "
                f"add them to {lid}'s DependsOn"
            )
        pool_arn = f"arn:aws:cognito-idp:{self.region}:{ACCOUNT_ID}:userpool/{pool_id}"
        if not self.iam.delivery(
            "cognito-idp.amazonaws.com",
            [Need("lambda:InvokeFunction", function["FunctionArn"])],
            self.region,
            source_arn=pool_arn,
            what=f"the custom message trigger of {pool_lid}",
        ):
            raise RuntimeError(f"{lid} CREATE_FAILED: {self.iam.undelivered[-1]}")
        if function_lid not in self.functions:  # registered with the rest after the fill-in; needed now
            self._register_function(function_lid, function["FunctionName"], self._code_dir)
        event = {
            "version": "1",
            "triggerSource": "CustomMessage_AdminCreateUser",
            "region": self.region,
            "userPoolId": pool_id,
            "userName": username,
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown", "clientId": "CLIENT_ID_NOT_APPLICABLE"},
            "request": {
                "userAttributes": attributes,
                "codeParameter": "{####}",
                "usernameParameter": "{username}",
                "linkParameter": "{##Click Here##}",
            },
            "response": {"smsMessage": None, "emailMessage": None, "emailSubject": None},
        }
        response = self.functions[function_lid].invoke(event)["response"]
        placeholder = "(temporary password)"  # Cognito's own, which it fills in as it sends
        return {
            "to": attributes.get("email", username),
            "subject": response["emailSubject"],
            "message": response["emailMessage"].replace("{username}", username).replace("{####}", placeholder),
        }

    def _physical(self, lid: str) -> str:
        return next(
            r["PhysicalResourceId"]
            for r in self.client("cloudformation").describe_stack_resources(StackName=self.stack_name)["StackResources"]
            if r.get("LogicalResourceId") == lid
        )

    def _name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"

    def _firehose_stream(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        name = props.get("DeliveryStreamName") or self._name(lid)
        kwargs = {k: v for k, v in props.items() if k not in ("DeliveryStreamName", "Tags")}
        self.client("firehose").create_delivery_stream(DeliveryStreamName=name, **kwargs)
        local_firehose.claim(name, self.firehose)
        arn = f"arn:aws:firehose:{self.region}:{ACCOUNT_ID}:deliverystream/{name}"
        return StandIn(name, {"Arn": arn}), "buffering, prefix expressions, delimiter and GZIP emulated locally"

    def _glue_database(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        database = props["DatabaseInput"]
        self.client("glue").create_database(DatabaseInput=database)
        return StandIn(database["Name"]), ""

    def _glue_table(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        table = props["TableInput"]
        self.client("glue").create_table(DatabaseName=props["DatabaseName"], TableInput=table)
        return StandIn(table["Name"]), "catalog only: Athena does not run queries locally"

    def _athena_workgroup(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        self.client("athena").create_work_group(
            Name=props["Name"],
            Description=props.get("Description", ""),
            Configuration=props.get("WorkGroupConfiguration", {}),
        )
        return StandIn(props["Name"]), "catalog only: queries are not executed locally"

    def _named_query(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        query_id = self.client("athena").create_named_query(
            Name=props["Name"],
            Description=props.get("Description", ""),
            Database=props["Database"],
            QueryString=props["QueryString"],
            WorkGroup=props.get("WorkGroup", "primary"),
        )["NamedQueryId"]
        return StandIn(query_id), "stored; the test suite runs it on DuckDB against the local lake"

    def _bucket_policy(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        self.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"]))
        return StandIn(props["Bucket"]), POLICY_NOTE

    def _queue_policy(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        sqs = self.client("sqs")
        for url in props["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
        return StandIn(self._name(lid)), POLICY_NOTE

    def _topic_policy(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        sns = self.client("sns")
        for arn in props["Topics"]:
            sns.set_topic_attributes(
                TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
            )
        return StandIn(self._name(lid)), POLICY_NOTE

    def _alarm(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        name = props.pop("AlarmName", None) or self._name(lid)
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **props)
        arn = f"arn:aws:cloudwatch:{self.region}:{ACCOUNT_ID}:alarm:{name}"
        return StandIn(name, {"Arn": arn}), "created; no metrics are emitted locally, so it does not fire"

    def _dashboard(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        name = props.get("DashboardName") or self._name(lid)
        self.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=props["DashboardBody"])
        return StandIn(name), "stored; its widgets stay empty locally (no metrics are emitted)"

    def _ssm_parameter(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        name = props.get("Name") or self._name(lid)
        self.client("ssm").put_parameter(
            Name=name,
            Value=str(props["Value"]),
            Type=props.get("Type", "String"),
            Description=props.get("Description", ""),
        )
        return StandIn(name, {"Type": props.get("Type", "String"), "Value": str(props["Value"])}), "value as in AWS"

    def _log_stream(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        self.client("logs").create_log_stream(logGroupName=props["LogGroupName"], logStreamName=props["LogStreamName"])
        return StandIn(props["LogStreamName"]), ""

    def _subscription(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        attributes = {
            k: json.dumps(v) if isinstance(v, dict) else str(v)
            for k, v in props.items()
            if k in ("RedrivePolicy", "FilterPolicy", "RawMessageDelivery")
        }
        arn = self.client("sns").subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"], Attributes=attributes
        )["SubscriptionArn"]
        return StandIn(arn), "e-mail is not sent locally"

    def _http_api(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        body = props.get("Body") or {}
        api = self.client("apigatewayv2").create_api(
            Name=str(body.get("info", {}).get("title") or self._name(lid)), ProtocolType="HTTP"
        )
        self.http_api_bodies[lid] = body
        return (
            StandIn(api["ApiId"], {"ApiEndpoint": api.get("ApiEndpoint", "")}),
            "served on 127.0.0.1 from its OpenAPI body (routes, IAM SigV4 check, Lambda proxy 2.0)",
        )

    def _http_api_stage(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        self.client("apigatewayv2").create_stage(ApiId=props["ApiId"], StageName=props["StageName"])
        return StandIn(props["StageName"]), "the local server answers on the $default stage"

    def _scalable_target(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        self.client("application-autoscaling").register_scalable_target(
            ServiceNamespace=props["ServiceNamespace"],
            ResourceId=props["ResourceId"],
            ScalableDimension=props["ScalableDimension"],
            MinCapacity=int(props["MinCapacity"]),
            MaxCapacity=int(props["MaxCapacity"]),
        )
        # CloudFormation's Ref of a scalable target: "<resource id>|<dimension>|<namespace>"
        ref = f"{props['ResourceId']}|{props['ScalableDimension']}|{props['ServiceNamespace']}"
        return StandIn(ref), "registered; nothing scales locally (moto does not throttle)"

    def _scaling_policy(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        resource_id, dimension, namespace = props["ScalingTargetId"].split("|")
        tracking = dict(props["TargetTrackingScalingPolicyConfiguration"])
        tracking["TargetValue"] = float(tracking["TargetValue"])
        arn = self.client("application-autoscaling").put_scaling_policy(
            PolicyName=props["PolicyName"],
            ServiceNamespace=namespace,
            ResourceId=resource_id,
            ScalableDimension=dimension,
            PolicyType=props["PolicyType"],
            TargetTrackingScalingPolicyConfiguration=tracking,
        )["PolicyARN"]
        return StandIn(arn), "stored; no metrics locally, so it never acts"

    def _schedule(self, lid: str, props: dict[str, Any]) -> tuple[StandIn, str]:
        name = props.get("Name") or self._name(lid)
        target = dict(props["Target"])
        if "RetryPolicy" in target:
            target["RetryPolicy"] = {k: int(v) for k, v in target["RetryPolicy"].items()}
        kwargs = {k: v for k, v in props.items() if k not in ("Name", "Target")}
        arn = self.client("scheduler").create_schedule(Name=name, Target=target, **kwargs)["ScheduleArn"]
        self.schedules[lid] = name
        group_arn = f"arn:aws:scheduler:{self.region}:{ACCOUNT_ID}:schedule-group/{props.get('GroupName', 'default')}"
        self._scheduler_client(target["RoleArn"], "scheduler", group_arn)  # its trust policy, checked now
        return StandIn(
            name, {"Arn": arn}
        ), "stored by moto; fired on request (`fire_schedule`, python -m local_aws fire)"

    def fire_schedule(self, logical_id: str) -> str:
        """What EventBridge Scheduler does when the schedule's time comes: start its target with the schedule's
        role; the execution ARN."""
        from local_aws.scheduler import fire

        return fire(self.client("scheduler"), self._scheduler_client, self.schedules[logical_id])

    def _scheduler_client(self, role_arn: str, service: str, schedule_group_arn: str) -> Any:
        """Scheduler assumes the target's role with the account and the schedule group as source
        (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role)."""
        context = {"aws:SourceAccount": ACCOUNT_ID, "aws:SourceArn": schedule_group_arn}
        if role_arn not in self.role_sessions:
            self._assume(role_arn, "scheduler.amazonaws.com", "scheduler", context)
        return self.role_client(role_arn, service)

    def _bucket_notifications(self, bucket: str, config: dict[str, Any]) -> None:
        queues = [
            {
                "QueueArn": q["Queue"],
                "Events": [q["Event"]],
                **({"Filter": {"Key": {"FilterRules": q["Filter"]["S3Key"]["Rules"]}}} if "Filter" in q else {}),
            }
            for q in config.get("QueueConfigurations", [])
        ]
        self.client("s3").put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queues}
        )

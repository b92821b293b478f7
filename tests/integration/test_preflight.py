"""`make deploy`'s preflight asks Lambda about the layer in the deploy region (moto's Lambda API)."""

import io
import zipfile

import boto3
from moto import mock_aws

from stockctl.preflight import powertools_parameter, run

POWERTOOLS = "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:18"


def public_parameter(region, name=None, value=None):
    """AWS publishes /aws/service/... parameters; moto refuses to create them through its API."""
    import datetime

    from moto.ssm.models import Parameter, ssm_backends

    name = name or powertools_parameter({})
    ssm_backends["123456789012"][region]._parameters[name].append(
        Parameter(
            "123456789012",
            name,
            value or POWERTOOLS.format(region=region),
            "String",
            None,
            None,
            None,
            datetime.datetime.now(datetime.UTC),
            1,
            "text",
        )
    )


def publish(client, architectures):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("python/awswrangler/__init__.py", "")
    return client.publish_layer_version(
        LayerName="AWSSDKPandas-Python312-Arm64",
        Description="AWS SDK for pandas 3.16.1",
        Content={"ZipFile": archive.getvalue()},
        CompatibleRuntimes=["python3.12"],
        CompatibleArchitectures=architectures,
    )["LayerVersionArn"]


def config(tmp_path, arn, region="eu-central-1"):
    path = tmp_path / "samconfig.toml"
    settings = f'region = "{region}"\nparameter_overrides = ["PandasLayerArn={arn}"]\n'
    path.write_text("[default.deploy.parameters]\n" + settings)
    return path


@mock_aws
def test_the_layer_in_samconfig_is_checked_against_lambda_in_the_deploy_region(tmp_path, capsys):
    client = boto3.client("lambda", region_name="eu-central-1")
    public_parameter("eu-central-1")
    arn = publish(client, ["arm64"])
    assert run(config(tmp_path, arn), "default", None, None, client) == 0
    assert "loads in eu-central-1" in capsys.readouterr().out

    missing = arn.rsplit(":", 1)[0] + ":99"
    assert run(config(tmp_path, missing), "default", None, None, client) == 1
    assert "version 99" in capsys.readouterr().out

    ssm = boto3.client("ssm", region_name="eu-west-1")
    assert run(config(tmp_path, arn, region="eu-west-1"), "default", None, None, client, ssm) == 1
    assert "deploys to eu-west-1" in capsys.readouterr().out


@mock_aws
def test_a_layer_published_for_x86_64_under_the_arm64_name_is_refused(tmp_path, capsys):
    client = boto3.client("lambda", region_name="eu-central-1")
    public_parameter("eu-central-1")
    arn = publish(client, ["x86_64"])
    assert run(config(tmp_path, arn), "default", None, None, client) == 1
    assert "x86_64, not arm64" in capsys.readouterr().out


@mock_aws
def test_a_powertools_release_not_published_in_the_deploy_region_is_refused_before_deploying(tmp_path, capsys):
    """The template resolves the Powertools layer from a public SSM parameter of the deploy region."""
    client = boto3.client("lambda", region_name="eu-central-1")
    arn = publish(client, ["arm64"])
    ssm = boto3.client("ssm", region_name="eu-central-1")
    assert run(config(tmp_path, arn), "default", None, None, client, ssm) == 1
    out = capsys.readouterr().out
    assert f"PowertoolsLayerArn: {powertools_parameter({})} does not exist in eu-central-1" in out

    public_parameter("eu-central-1", value=POWERTOOLS.format(region="us-east-1"))
    assert run(config(tmp_path, arn), "default", None, None, client, ssm) == 1
    assert "names a layer in us-east-1, but the stack deploys to eu-central-1" in capsys.readouterr().out


def test_the_parameter_is_the_templates_default_unless_samconfig_overrides_it():
    from local_aws.template import load_template

    default = load_template()["Parameters"]["PowertoolsLayerArn"]["Default"]
    assert powertools_parameter({}) == default
    assert powertools_parameter({"PowertoolsLayerArn": "/aws/service/x"}) == "/aws/service/x"

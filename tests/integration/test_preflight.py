"""`make deploy`'s preflight asks Lambda about the layer in the deploy region (moto's Lambda API)."""

import io
import zipfile

import boto3
from moto import mock_aws

from stockctl.preflight import run


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
    arn = publish(client, ["arm64"])
    assert run(config(tmp_path, arn), "default", None, None, client) == 0
    assert "loads in eu-central-1" in capsys.readouterr().out

    missing = arn.rsplit(":", 1)[0] + ":99"
    assert run(config(tmp_path, missing), "default", None, None, client) == 1
    assert "version 99" in capsys.readouterr().out

    assert run(config(tmp_path, arn, region="eu-west-1"), "default", None, None, client) == 1
    assert "deploys to eu-west-1" in capsys.readouterr().out


@mock_aws
def test_a_layer_published_for_x86_64_under_the_arm64_name_is_refused(tmp_path, capsys):
    client = boto3.client("lambda", region_name="eu-central-1")
    arn = publish(client, ["x86_64"])
    assert run(config(tmp_path, arn), "default", None, None, client) == 1
    assert "x86_64, not arm64" in capsys.readouterr().out

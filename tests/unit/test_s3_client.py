"""The S3 client every function makes, as it behaves in AWS (no endpoint override): presigned uploads and downloads
signed with SigV4 at the bucket's regional virtual-hosted endpoint, in every Region (no request is sent)."""

import boto3
import pytest

from stock_pipeline.adapters.aws import s3_client
from stock_pipeline.adapters.s3 import ObjectStore

# the Regions where botocore still presigns with SigV2 by default, and one that was always SigV4-only
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2", "eu-central-1"]


@pytest.mark.parametrize("region", REGIONS)
def test_presigned_post_and_get_are_sigv4_at_the_regional_host(region):
    session = boto3.session.Session(aws_access_key_id="AKID", aws_secret_access_key="secret", region_name=region)
    store = ObjectStore(s3_client(session))

    post = store.presigned_post("stock-data", "inventory_files/x.csv", content_type="text/csv", max_bytes=10)
    assert post["url"] == f"https://stock-data.s3.{region}.amazonaws.com/"
    assert post["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert f"/{region}/s3/aws4_request" in post["fields"]["x-amz-credential"]
    assert "AWSAccessKeyId" not in post["fields"]

    url = store.presigned_get("stock-data", "rejected/x.jsonl", download_name="x.jsonl")
    assert url.startswith(f"https://stock-data.s3.{region}.amazonaws.com/rejected/x.jsonl?")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "Signature=" not in url.replace("X-Amz-Signature=", "")


def test_every_s3_client_of_the_functions_is_made_by_s3_client():
    """A plain session.client("s3") would presign with SigV2 in us-east-1 again."""
    from pathlib import Path

    src = Path(__file__).parents[2] / "src" / "stock_pipeline"
    offenders = [
        str(path.relative_to(src))
        for path in src.rglob("*.py")
        if 'client("s3"' in path.read_text() and path.name != "aws.py"
    ]
    assert offenders == []


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1"])
def test_the_consoles_csp_lets_the_page_post_to_the_regional_bucket_host_only(region):
    from stock_pipeline.config import Settings
    from stock_pipeline.handlers.console import build_dependencies, security_headers

    session = boto3.session.Session(aws_access_key_id="AKID", aws_secret_access_key="secret", region_name=region)
    settings = Settings.from_env(
        {"STOCK_TABLE_NAME": "t", "DATA_BUCKET_NAME": "stock-data", "CONSOLE_USER_POOL_CLIENT_ID": "client"}
    )
    origin = build_dependencies(settings, session).upload_origin
    assert origin == f"https://stock-data.s3.{region}.amazonaws.com"
    assert f"connect-src 'self' {origin};" in security_headers(origin)["Content-Security-Policy"]

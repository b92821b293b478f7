"""S3 requests as IAM authorizes them (pure): an S3 REST request (method, path, sub-resource) as an operation,
and the operation as the actions it needs: HeadObject is s3:GetObject, a versioned read s3:GetObjectVersion,
ListObjects(V2) s3:ListBucket with the s3:prefix key, DeleteObjects s3:DeleteObject per key, a copy s3:GetObject on
the source too (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html), and the
bucket's or object's KMS key for encrypted data."""

from __future__ import annotations

import re
from urllib.parse import unquote
from xml.etree import ElementTree

from local_aws.iam.model import HttpRequest, Need, Operation, Resources, kms_actions


def _s3_location(request: HttpRequest) -> tuple[str | None, str | None]:
    host = request.host.split(":", 1)[0]
    path = request.path
    virtual = re.match(r"^(?P<bucket>.+)\.s3[.-]", host)
    if virtual and not re.fullmatch(r"[\d.]+", host):
        bucket, key = virtual.group("bucket"), path.lstrip("/")
    else:
        bucket, _, key = path.lstrip("/").partition("/")
    return (unquote(bucket) or None), (unquote(key) or None)


# S3 sub-resources of a bucket request -> (GET/HEAD, PUT, DELETE) action names.
_BUCKET_SUBRESOURCES = {
    "location": ("GetBucketLocation", None, None),
    "versions": ("ListBucketVersions", None, None),
    "uploads": ("ListBucketMultipartUploads", None, None),
    "notification": ("GetBucketNotification", "PutBucketNotification", None),
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration", "PutEncryptionConfiguration"),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "cors": ("GetBucketCORS", "PutBucketCORS", "PutBucketCORS"),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration", "PutLifecycleConfiguration"),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "publicAccessBlock": ("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "PutBucketPublicAccessBlock"),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls", "PutBucketOwnershipControls"),
}
_OBJECT_SUBRESOURCES = {
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"),
    "acl": ("GetObjectAcl", "PutObjectAcl", None),
    "attributes": ("GetObjectAttributes", None, None),
    "retention": ("GetObjectRetention", "PutObjectRetention", None),
    "legal-hold": ("GetObjectLegalHold", "PutObjectLegalHold", None),
}


def s3_operation(request: HttpRequest) -> Operation:
    bucket, key = _s3_location(request)
    params = request.params()
    method = "GET" if request.method == "HEAD" else request.method
    column = {"GET": 0, "PUT": 1, "DELETE": 2}.get(method)

    def op(name: str) -> Operation:
        return Operation("s3", name, params, bucket, key)

    if bucket is None:
        return op("ListAllMyBuckets")
    subresources = _OBJECT_SUBRESOURCES if key else _BUCKET_SUBRESOURCES
    for name, actions in subresources.items():
        if name in params and column is not None and actions[column]:
            return op(actions[column])
    if key is None:
        if method == "POST":
            return op("DeleteObjects" if "delete" in params else "PostObject")
        if request.method == "HEAD":
            return op("HeadBucket")
        return op({"GET": "ListObjects", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}[method])
    if method == "POST":
        if "uploads" in params:
            return op("CreateMultipartUpload")
        if "uploadId" in params:
            return op("CompleteMultipartUpload")
        return op("RestoreObject" if "restore" in params else "SelectObjectContent")
    if method == "GET":
        if "uploadId" in params:
            return op("ListParts")
        return op("HeadObject" if request.method == "HEAD" else "GetObject")
    if method == "PUT":
        if "uploadId" in params:
            return op("UploadPart")
        return op("CopyObject" if "x-amz-copy-source" in request.headers else "PutObject")
    return op("AbortMultipartUpload" if "uploadId" in params else "DeleteObject")


def s3_needs(op: Operation, request: HttpRequest, region: str, account: str, resources: Resources) -> list[Need] | None:
    bucket_arn = f"arn:aws:s3:::{op.bucket}"
    object_arn = f"{bucket_arn}/{op.key}"
    version = op.params.get("versionId")
    headers = request.headers
    name = op.name
    context = {"s3:signatureversion": "AWS4-HMAC-SHA256", "s3:authType": _s3_auth_type(request)}
    if name in ("ListObjects", "ListBucketVersions", "ListBucketMultipartUploads", "HeadBucket"):
        listing = {
            **context,
            **{f"s3:{k}": op.params[k] for k in ("prefix", "delimiter", "max-keys") if k in op.params},
        }
        action = {
            "ListBucketVersions": "ListBucketVersions",
            "ListBucketMultipartUploads": "ListBucketMultipartUploads",
        }
        return [Need(f"s3:{action.get(name, 'ListBucket')}", bucket_arn, listing)]
    if name in ("GetObject", "HeadObject", "SelectObjectContent"):
        action = "s3:GetObjectVersion" if version else "s3:GetObject"
        return [
            Need(action, object_arn, {**context, **({"s3:versionid": version} if version else {})}),
            *kms_actions(resources.object_key(op.bucket or "", op.key or "", version), ["kms:Decrypt"], "s3", region),
        ]
    if name in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "PostObject"):
        found = [Need("s3:PutObject", object_arn, context)]
        if headers.get("x-amz-tagging"):
            found.append(Need("s3:PutObjectTagging", object_arn, context))
        if headers.get("x-amz-acl"):
            found.append(Need("s3:PutObjectAcl", object_arn, context))
        key = headers.get("x-amz-server-side-encryption-aws-kms-key-id") or resources.bucket_key(op.bucket or "")
        # multipart uploads decrypt their parts' data keys to assemble the object
        kms = ["kms:GenerateDataKey"] + (["kms:Decrypt"] if name != "PutObject" and name != "PostObject" else [])
        return found + kms_actions(resources.key_arn(key) if key else None, kms, "s3", region)
    if name == "CopyObject":
        source = unquote(headers["x-amz-copy-source"]).lstrip("/")
        source_bucket, _, source_key = source.partition("/")
        source_key, _, query = source_key.partition("?versionId=")
        key = headers.get("x-amz-server-side-encryption-aws-kms-key-id") or resources.bucket_key(op.bucket or "")
        return [
            Need("s3:GetObjectVersion" if query else "s3:GetObject", f"arn:aws:s3:::{source_bucket}/{source_key}"),
            Need("s3:PutObject", object_arn, context),
            *kms_actions(resources.object_key(source_bucket, source_key, query or None), ["kms:Decrypt"], "s3", region),
            *kms_actions(resources.key_arn(key) if key else None, ["kms:GenerateDataKey"], "s3", region),
        ]
    if name == "DeleteObject":
        return [Need("s3:DeleteObjectVersion" if version else "s3:DeleteObject", object_arn, context)]
    if name == "DeleteObjects":
        keys = [
            (e.findtext("{*}Key") or e.findtext("Key"), e.findtext("{*}VersionId") or e.findtext("VersionId"))
            for e in ElementTree.fromstring(request.body or b"<Delete/>")  # noqa: S314 (an SDK's request body)
            if e.tag.endswith("Object")
        ]
        return [
            Need("s3:DeleteObjectVersion" if v else "s3:DeleteObject", f"{bucket_arn}/{k}", context) for k, v in keys
        ]
    if name == "AbortMultipartUpload":
        return [Need("s3:AbortMultipartUpload", object_arn, context)]
    if name == "ListParts":
        return [Need("s3:ListMultipartUploadParts", object_arn, context)]
    if name == "ListAllMyBuckets":
        return [Need("s3:ListAllMyBuckets", "*", context)]
    if name in ("CreateBucket", "DeleteBucket"):
        return [Need(f"s3:{name}", bucket_arn, context)]
    if op.key is None and any(name in actions for actions in _BUCKET_SUBRESOURCES.values()):
        return [Need(f"s3:{name}", bucket_arn, context)]
    if op.key is not None and any(name in actions for actions in _OBJECT_SUBRESOURCES.values()):
        suffix = "Version" if version and not name.endswith("Attributes") else ""
        return [Need(f"s3:{name}{suffix}", object_arn, context)]
    return None


def _s3_auth_type(request: HttpRequest) -> str:
    if request.method == "POST" and "authorization" not in request.headers:
        return "POST"
    return "REST-QUERY-STRING" if "X-Amz-Signature" in request.query else "REST-HEADER"

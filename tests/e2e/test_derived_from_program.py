"""otp-local serves whatever the stack program declares: a different program, a different API."""

from __future__ import annotations

import textwrap
from pathlib import Path

from otp_service.local.process import LocalStackProcess

PROGRAM = """
import pulumi
import pulumi_aws as aws

table = aws.dynamodb.Table(
    "codes", hash_key="pk", attributes=[{"name": "pk", "type": "S"}], billing_mode="PAY_PER_REQUEST"
)
mac_key = aws.kms.Key("mac", key_usage="GENERATE_VERIFY_MAC", customer_master_key_spec="HMAC_256")
burn = aws.lambda_.Function(
    "burn",
    role="arn:aws:iam::123456789012:role/burn",
    runtime="python3.12",
    handler="handlers.cancel_token.handler",
    code=pulumi.AssetArchive({}),
    environment={"variables": {"OTP_TABLE_NAME": table.name, "OTP_MAC_KEY_ID": mac_key.arn}},
)
api = aws.apigateway.RestApi("api")
root = api.root_resource_id
admin = aws.apigateway.Resource("admin", rest_api=api.id, parent_id=root, path_part="admin")
codes = aws.apigateway.Resource("codes", rest_api=api.id, parent_id=admin.id, path_part="codes")
method = aws.apigateway.Method(
    "burn", rest_api=api.id, resource_id=codes.id, http_method="DELETE", authorization="NONE"
)
aws.apigateway.Integration(
    "burn",
    rest_api=api.id,
    resource_id=codes.id,
    http_method=method.http_method,
    type="AWS_PROXY",
    integration_http_method="POST",
    uri=burn.invoke_arn,
)
"""


def test_routes_handlers_and_environment_come_from_the_program(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: derived\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (tmp_path / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    process = LocalStackProcess(cwd=tmp_path)
    try:
        process.wait_for_line(
            r"^\s+DELETE\s+/admin/codes\s+burn-\S+\s+handlers.cancel_token.handler$"
        )
        burned = process.call("DELETE", "/admin/codes", {"user_id": "someone"})
        assert (burned.status, burned.body) == (200, {"status": "canceled"})
        assert process.call("POST", "/cancel-token", {"user_id": "someone"}).status == 403
    finally:
        assert process.stop() == 0

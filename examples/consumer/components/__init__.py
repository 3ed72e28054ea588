"""The consumer's own `components` package: it coexists with `otp_service.components`."""

import json

import pulumi_aws as aws


def backend_role(name: str) -> aws.iam.Role:
    """The role the consumer's backend (an ECS task here) runs as."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    return aws.iam.Role(name, assume_role_policy=json.dumps(trust))


__all__ = ["backend_role"]

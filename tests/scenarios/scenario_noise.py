"""What a person's session holds besides the task (the scenario scripts' --noise): stray reads, a
queue created and deleted again with nothing using it, and a call made with a typo that failed
before it was made right."""

import boto3
import botocore.exceptions


def stray_work(endpoint_url: str | None) -> None:
    boto3.client("iam", endpoint_url=endpoint_url).list_roles()
    boto3.client("ec2", endpoint_url=endpoint_url).describe_regions()
    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    sqs.delete_queue(QueueUrl=sqs.create_queue(QueueName="scratch-queue")["QueueUrl"])


def with_typo_first(call, typo: dict, **request):
    """``call`` made once with ``typo`` over the request, failing, then as it should be."""
    try:
        call(**{**request, **typo})
    except botocore.exceptions.ClientError:
        pass
    else:
        raise SystemExit(f"the typo {typo} did not fail")
    return call(**request)

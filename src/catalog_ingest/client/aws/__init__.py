"""The seed 003 integration on AWS Lambda: S3-, SQS- and schedule-triggered handlers, DynamoDB.

Entry points (handler strings ``catalog_ingest.client.aws.s3_handler`` and so on)::

    s3_handler(event, context)     # S3 ObjectCreated: read, map, validate, upload, record
    sqs_handler(event, context)    # SQS (SNS Notification bodies): verify, fetch report, store
    poll_handler(event, context)   # schedule: poll uploads no notification arrived for

Configuration comes from the environment (see ``config.Config`` and docs/aws-lambda.md).
Imports only the toolkit (``catalog_ingest.client``), domain and errors; boto3 from the Lambda
runtime.
"""

from catalog_ingest.client.aws.handlers import poll_handler, s3_handler, sqs_handler

__all__ = ["poll_handler", "s3_handler", "sqs_handler"]

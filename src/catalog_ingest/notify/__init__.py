"""SNS-format completion notifications: envelopes, signing, delivery to webhooks and SQS."""

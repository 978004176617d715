"""A local EventBridge Pipes engine (DynamoDB stream source, API destination target)."""

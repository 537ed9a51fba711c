"""arcollect's domain package: shipped with every Lambda function and used by the command line."""

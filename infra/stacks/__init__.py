"""The CloudFormation stacks of the app."""

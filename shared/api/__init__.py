"""The HTTP edge every API function shares: one error envelope, one mapping from exceptions to statuses, and
a resolver that answers like the REST contract in INTERFACES.md (404, 405 with Allow, HEAD, 413, docs)."""

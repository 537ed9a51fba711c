"""The applied policy file, versioned in PolicySetRecord (`set_name="active"`): every apply writes a new
version and never changes an old one, so the newest version is what the run follows and the older ones
are the audit trail (who applied what, when, from which text).

Two staff members applying at once must not overwrite each other: a version is written only if it does not
exist yet, and the loser takes the next number. Reading the active version is a strongly consistent query,
so a run started right after an apply follows the new policies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import PutError

from shared.data.tables import PolicySetRecord
from shared.dunning.model import PolicyFile
from shared.dunning.policy import PolicyFileError, policy_file_from_document, policy_file_to_document
from shared.errors import ConflictError

ACTIVE_SET = "active"
# DynamoDB's item limit is 400 KB; the keys, the date and the attribute names take the rest.
MAX_STORED_BYTES = 390_000
APPLY_ATTEMPTS = 5


@dataclass(frozen=True)
class StoredPolicyFile:
    version: int
    applied_at: datetime
    applied_by: str
    policy_file: PolicyFile
    source_text: str


class PolicyStore:
    def __init__(self, set_name: str = ACTIVE_SET) -> None:
        self.set_name = set_name

    def apply(self, policy_file: PolicyFile, source_text: str, applied_by: str, now: datetime) -> int:
        """Store `policy_file` as the new active version; returns its number (the previous one + 1)."""
        document = policy_file_to_document(policy_file)
        _check_size(document, source_text)
        for _ in range(APPLY_ATTEMPTS):
            version = self._latest_version() + 1
            record = PolicySetRecord(
                set_name=self.set_name,
                version_number=version,
                document=document,
                source_text=source_text,
                applied_by=applied_by,
                applied_at=now,
            )
            try:
                record.save(condition=PolicySetRecord.version_number.does_not_exist())
            except PutError as exc:
                if exc.cause_response_code == "ConditionalCheckFailedException":
                    continue  # someone applied this number first: take the next one
                raise
            return version
        raise ConflictError(f"the policies could not be applied: {APPLY_ATTEMPTS} other applies came first; try again")

    def latest(self) -> StoredPolicyFile | None:
        """The active version with who applied it and when, or None when nothing was ever applied."""
        record = self._newest()
        if record is None:
            return None
        return StoredPolicyFile(
            version=int(record.version_number),
            applied_at=record.applied_at,
            applied_by=record.applied_by,
            policy_file=policy_file_from_document(record.document),
            source_text=record.source_text,
        )

    def active(self) -> tuple[int, PolicyFile] | None:
        """The version number and file the run follows, or None when nothing was ever applied."""
        stored = self.latest()
        return None if stored is None else (stored.version, stored.policy_file)

    def versions(self, limit: int = 20) -> list[tuple[int, datetime, str]]:
        """The newest `limit` versions: (number, applied_at, applied_by)."""
        query = PolicySetRecord.query(
            self.set_name,
            scan_index_forward=False,
            consistent_read=True,
            limit=limit,
            attributes_to_get=["version_number", "applied_at", "applied_by"],
        )
        return [(int(r.version_number), r.applied_at, r.applied_by) for r in query]

    def _newest(self) -> PolicySetRecord | None:
        query = PolicySetRecord.query(self.set_name, scan_index_forward=False, consistent_read=True, limit=1)
        return next(iter(query), None)

    def _latest_version(self) -> int:
        query = PolicySetRecord.query(
            self.set_name, scan_index_forward=False, consistent_read=True, limit=1, attributes_to_get=["version_number"]
        )
        record = next(iter(query), None)
        return 0 if record is None else int(record.version_number)


def _check_size(document: dict[str, object], source_text: str) -> None:
    size = len(json.dumps(document).encode()) + len(source_text.encode("utf-8", "surrogatepass"))
    if size > MAX_STORED_BYTES:
        raise PolicyFileError(
            f"the policy file and its templates take {size} bytes; at most {MAX_STORED_BYTES} can be stored as one "
            "version (shorten the templates, or move hand-assigned customers into the ERP's segment column)"
        )

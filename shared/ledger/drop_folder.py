"""The S3 drop folder: the ERP (or a person) puts `incoming/<kind>/<name>.csv`; the file is imported with
the same code as `arcollect import`, the original stays where it is, and the report is written beside it
as `reports/<kind>/<name>.csv.json`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote_plus

from shared.errors import FileFormatError
from shared.ledger.formats import KINDS, RecordKind
from shared.ledger.importer import LedgerImporter

INCOMING = "incoming/"
REPORTS = "reports/"


def kind_of(key: str) -> RecordKind:
    parts = key.split("/")
    if len(parts) < 3 or parts[0] + "/" != INCOMING or parts[1] not in KINDS or not key.lower().endswith(".csv"):
        raise FileFormatError(f"{key}: drop files as incoming/<customers|invoices|payments>/<name>.csv")
    return cast(RecordKind, parts[1])


def report_key(key: str) -> str:
    return REPORTS + key[len(INCOMING) :] + ".json"


def keys_from_s3_event(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(bucket, key) pairs from an S3 notification, whether delivered directly or through SQS."""
    pairs = []
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:sqs":
            pairs.extend(keys_from_s3_event(json.loads(record["body"])))
        elif "s3" in record:
            pairs.append((record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"])))
    return pairs


@dataclass
class DropFolder:
    s3: Any  # a boto3 S3 client
    importer: LedgerImporter

    def ingest(self, bucket: str, key: str) -> dict[str, Any]:
        """Import one dropped file and write its report; a file-level fault is a report too (nothing lost,
        nothing silently dropped)."""
        source = f"s3://{bucket}/{key}"
        try:
            kind = kind_of(key)
            data = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            report = self.importer.import_file(kind, data, source=source).as_dict()
            report["status"] = "done" if report["rejected"] == 0 else "done_with_rejections"
        except FileFormatError as exc:
            report = {"source": source, "status": "failed", "error": exc.message}
        self.s3.put_object(
            Bucket=bucket,
            Key=report_key(key) if key.startswith(INCOMING) else REPORTS + key + ".json",
            Body=json.dumps(report, indent=2).encode(),
            ContentType="application/json",
        )
        return report

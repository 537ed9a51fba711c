"""The S3 drop folder: the ERP (or a person) puts `incoming/<kind>/<name>.csv`; the file is imported with
the same code as `arcollect import`, the original stays where it is, and the report is written beside it
as `reports/<kind>/<name>.csv.json`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes.s3_event import S3Event

from shared.errors import FileFormatError
from shared.ledger.formats import KINDS, RecordKind

if TYPE_CHECKING:  # the drop folder's names are read without loading the importer (arcollect/local)
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


class MalformedNotification(ValueError):
    """A queue message that is not an S3 event notification: it fails alone, and reaches the dead-letter
    queue after its retries. The message says what is wrong, never what the body holds."""


def files_in_notification(body: str) -> list[tuple[str, str]]:
    """(bucket, key) of every object an S3 event notification names, from the body of the SQS message S3
    sent it in; none for the test event S3 sends when the notification is configured."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError:
        raise MalformedNotification("the message body is not JSON") from None
    if isinstance(message, dict) and message.get("Event") == "s3:TestEvent":
        return []
    try:
        # Powertools' S3 event classes read the notification lazily, so a missing part fails here.
        files = [
            (record.s3.bucket.name, unquote_plus(record.s3.get_object.key))
            for record in S3Event(message).records
            if record.event_source == "aws:s3"
        ]
    except (KeyError, TypeError, AttributeError):
        raise MalformedNotification("the message is not an S3 event notification") from None
    if not files:
        raise MalformedNotification("the message names no S3 object")
    return files


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

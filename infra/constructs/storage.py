"""Everything arcollect keeps: the DynamoDB tables (built from the PynamoDB models, never by hand), the
ledger drop bucket, the documents bucket (run manifests, letters, agency referrals), and the KMS keys that
protect them and the customers' TINs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import StageConfig
from infra.nag import acknowledge
from shared.data.schema import KeyAttr, TableSpec, all_table_specs
from shared.security.tin_vault import DATA_KEY_CONTEXT

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}

# Item-level actions only: no Scan (every access pattern has a key or an index), no table management.
TABLE_READ_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
)
TABLE_WRITE_ACTIONS = ("dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
# What DynamoDB and S3 ask of the caller's role when the data is under a customer managed key.
DATA_KEY_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
# Run manifests are read once, by the run that wrote them; a month covers any investigation of a run.
RUN_MANIFESTS_PREFIX = "runs/"
RUN_MANIFEST_DAYS = 30


class Storage(Construct):
    """The stateful half of the stage. In prod it survives `cdk destroy`; in dev it goes with the stack."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.data_key = self._key(
            "DataKey", alias="data", description="Encrypts arcollect's tables and ledger files at rest"
        )
        self.tin_key = self._key("TinKey", alias="tin", description="Encrypts customers' TINs")
        self.tin_mac_key = kms.Key(
            self,
            "TinMacKey",
            alias=config.names.tin_mac_key_alias,
            description="Fingerprints customers' TINs (HMAC) so duplicates are found without the clear TIN",
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            removal_policy=config.removal_policy,
            pending_window=config.key_deletion_window,
        )
        self.specs = {spec.key: spec for spec in all_table_specs()}
        self.tables = {key: self._table(spec) for key, spec in self.specs.items()}
        self.access_logs_bucket = self._access_logs_bucket()
        self.ingest_bucket = self._ingest_bucket()
        self.documents_bucket = self._documents_bucket()

    def table_name(self, key: str) -> str:
        return self._config.names.table(key)

    def grant_table_data(self, grantee: iam.IGrantable, table_keys: Iterable[str], *, write: bool) -> None:
        """Item reads (and writes) on the named tables and exactly their indexes, plus use of the data key."""
        resources: list[str] = []
        for key in table_keys:
            table = self.tables[key]
            resources.append(table.table_arn)
            resources.extend(f"{table.table_arn}/index/{index.name}" for index in self.specs[key].indexes)
        actions = TABLE_READ_ACTIONS + (TABLE_WRITE_ACTIONS if write else ())
        iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=resources)
        self.grant_data_key(grantee)

    def grant_index_reads(self, grantee: iam.IGrantable, table_key: str, *, indexes: Sequence[str]) -> None:
        """Item reads on one table and only the named indexes of it, plus use of the data key."""
        table = self.tables[table_key]
        known = {index.name for index in self.specs[table_key].indexes}
        unknown = sorted(set(indexes) - known)
        if unknown:
            raise ValueError(f"{table_key} has no index {', '.join(unknown)}")
        resources = [table.table_arn, *(f"{table.table_arn}/index/{name}" for name in indexes)]
        iam.Grant.add_to_principal(grantee=grantee, actions=list(TABLE_READ_ACTIONS), resource_arns=resources)
        self.grant_data_key(grantee)

    def grant_scan(self, grantee: iam.IGrantable, table_key: str) -> None:
        """Scan one table (not its indexes): only for paging through every item, as the staff customer list
        does; every other access pattern has a key or an index."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["dynamodb:Scan"], resource_arns=[self.tables[table_key].table_arn]
        )
        self.grant_data_key(grantee)

    def grant_documents(self, grantee: iam.IGrantable, prefixes: Sequence[str], *, read: bool, write: bool) -> None:
        """Get (read) and put (write) objects under each prefix (e.g. "letters/") of the documents bucket, and
        the data key as far as that takes: Decrypt to read, GenerateDataKey to write."""
        if not prefixes or not (read or write) or any(not prefix.endswith("/") for prefix in prefixes):
            raise ValueError(
                f"grant_documents: name folder prefixes ending in '/' and read and/or write, not {prefixes}"
            )
        actions = (["s3:GetObject"] if read else []) + (["s3:PutObject"] if write else [])
        objects = [self.documents_bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes]
        iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=objects)
        key_actions = (["kms:Decrypt"] if read else []) + (["kms:GenerateDataKey"] if write else [])
        iam.Grant.add_to_principal(grantee=grantee, actions=key_actions, resource_arns=[self.data_key.key_arn])

    def grant_data_key(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee, actions=list(DATA_KEY_ACTIONS), resource_arns=[self.data_key.key_arn]
        )

    def grant_tin_protection(self, grantee: iam.IGrantable) -> None:
        """Encrypt TINs and fingerprint them (shared/security/tin_vault.py): data keys for TINs only, and
        the HMAC key's SHA-256 MACs. Unwrapping a data key (kms:Decrypt), so reading a TIN, is not granted."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey"],
                resources=[self.tin_key.key_arn],
                conditions={
                    "StringEquals": {f"kms:EncryptionContext:{name}": value for name, value in DATA_KEY_CONTEXT.items()}
                },
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateMac"],
                resources=[self.tin_mac_key.key_arn],
                conditions={"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}},
            )
        )

    def grant_tin_decrypt(self, grantee: iam.IGrantable) -> None:
        """Read TINs (shared/security/tin_vault.py `decrypt`): unwrap data keys made for TINs, nothing more. Only
        what must see a TIN in clear gets it (onboarding checks its rules and the registry); no encrypting, and
        no fingerprints."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[self.tin_key.key_arn],
                conditions={
                    "StringEquals": {f"kms:EncryptionContext:{name}": value for name, value in DATA_KEY_CONTEXT.items()}
                },
            )
        )

    def _key(self, construct_id: str, *, alias: str, description: str) -> kms.Key:
        return kms.Key(
            self,
            construct_id,
            alias=self._config.names.key_alias(alias),
            description=description,
            enable_key_rotation=True,
            removal_policy=self._config.removal_policy,
            pending_window=self._config.key_deletion_window,
        )

    def _table(self, spec: TableSpec) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            f"{_camel(spec.key)}Table",
            table_name=self.table_name(spec.key),
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.data_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
            deletion_protection=self._config.deletion_protection,
            removal_policy=self._config.removal_policy,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
                projection_type=_PROJECTIONS[index.projection],
                non_key_attributes=list(index.non_key_attributes) or None,
            )
        return table

    def _access_logs_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            # S3 server access logging can only deliver to a bucket encrypted with S3-managed keys.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(365 if self._config.is_production else 30),
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
            removal_policy=self._config.removal_policy,
            auto_delete_objects=not self._config.is_production,
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            reason="This is the target of the ingest bucket's server access logs; logging it into itself "
            "would loop and logging it elsewhere only moves the question one bucket further.",
        )
        return bucket

    def _ingest_bucket(self) -> s3.Bucket:
        """ERP exports (`incoming/`) and their import reports (`reports/`). Originals are never deleted."""
        return s3.Bucket(
            self,
            "IngestBucket",
            # customers.csv carries TINs in clear: encrypt with our key, not an S3-managed one.
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.data_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="ingest/",
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90))],
            removal_policy=self._config.removal_policy,
            # A dev stack must be able to go away with its files; prod keeps the bucket and everything in it.
            auto_delete_objects=not self._config.is_production,
        )

    def _documents_bucket(self) -> s3.Bucket:
        """What dunning produces: run manifests (`runs/`, kept a month), letters (`letters/`) and agency
        referrals (`agency/`), which are records of what was sent and are kept."""
        return s3.Bucket(
            self,
            "DocumentsBucket",
            # Letters and referrals carry customers' names, addresses and balances: our key, not S3's.
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.data_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="documents/",
            lifecycle_rules=[
                s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90)),
                s3.LifecycleRule(
                    prefix=RUN_MANIFESTS_PREFIX,
                    expiration=Duration.days(RUN_MANIFEST_DAYS),
                    noncurrent_version_expiration=Duration.days(1),
                ),
            ],
            removal_policy=self._config.removal_policy,
            auto_delete_objects=not self._config.is_production,
        )


def _attribute(key: KeyAttr) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_ATTRIBUTE_TYPES[key.type])


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))

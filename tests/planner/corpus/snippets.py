# ruff: noqa: E501, W291, W293
"""The real corpus: migrations as public projects wrote them, each statement with the verdict
judged from the PostgreSQL documentation (see ``tests/planner/corpus/__init__.py`` for the
rules the verdicts follow). Generated once from the cited files; edit by hand from here on.

Each ``Snippet`` quotes consecutive statements of one migration file, from its first
statement, exactly as written (comments included), except where ``note`` says otherwise.
``expect`` holds one verdict per statement: the phase, and ``!`` when it blocks the app.
``transaction`` says whether the project's migration tool runs the file as one transaction.
"""

from __future__ import annotations

from tests.planner.corpus import Snippet

SNIPPETS: list[Snippet] = [
    # ente-io/ente:server/migrations/45_collection_files_file_id_idx.up.sql
    Snippet(
        'ente-io/ente:server/migrations/45_collection_files_file_id_idx.up.sql',
        """\
CREATE INDEX CONCURRENTLY IF NOT EXISTS collection_files_file_id_index ON collection_files (file_id);
""",
        expect=('expand',),
        transaction=False,
    ),
    # ente-io/ente:server/migrations/123_temp_objects_expiration_time_idx.up.sql
    Snippet(
        'ente-io/ente:server/migrations/123_temp_objects_expiration_time_idx.up.sql',
        """\
CREATE INDEX CONCURRENTLY IF NOT EXISTS temp_objects_expiration_time_idx
    ON temp_objects (expiration_time);
""",
        expect=('expand',),
        transaction=False,
    ),
    # ente-io/ente:server/migrations/79_queue_index.up.sql
    Snippet(
        'ente-io/ente:server/migrations/79_queue_index.up.sql',
        """\
-- create partial index on non-deleted queue items as we always query for non-deleted entries
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_queue_created_at_non_deleted ON queue (queue_name, created_at)
    WHERE is_deleted = false;
""",
        expect=('expand',),
        transaction=False,
    ),
    # ente-io/ente:server/migrations/97_file_data_user_update_idx.up.sql
    Snippet(
        'ente-io/ente:server/migrations/97_file_data_user_update_idx.up.sql',
        """\
CREATE INDEX CONCURRENTLY idx_file_data_user_updated
    ON file_data (user_id, updated_at);
""",
        expect=('expand',),
        transaction=False,
    ),
    # ente-io/ente:server/migrations/86_add_dc_embedding.up.sql
    Snippet(
        'ente-io/ente:server/migrations/86_add_dc_embedding.up.sql',
        """\
-- Add types for the new dcs that are introduced for the derived data
ALTER TYPE s3region ADD VALUE 'wasabi-eu-central-2-derived';
DROP TRIGGER IF EXISTS update_embeddings_updated_at ON embeddings;
ALTER TABLE embeddings ADD COLUMN IF NOT EXISTS datacenters s3region[] default '{b2-eu-cen}';
""",
        expect=('expand', 'contract', 'expand'),
    ),
    # ente-io/ente:server/migrations/109_add_admin_role_enum.up.sql
    Snippet(
        'ente-io/ente:server/migrations/109_add_admin_role_enum.up.sql',
        """\
-- Add ADMIN role to collection share role enum
ALTER TYPE role_enum ADD VALUE IF NOT EXISTS 'ADMIN';
""",
        expect=('expand',),
    ),
    # ente-io/ente:server/migrations/25_alter_ids_to_bigint.up.sql
    Snippet(
        'ente-io/ente:server/migrations/25_alter_ids_to_bigint.up.sql',
        """\
ALTER TABLE collection_files ALTER COLUMN collection_id TYPE BIGINT;

ALTER TABLE collection_shares ALTER COLUMN collection_id TYPE BIGINT;
ALTER TABLE collection_shares ALTER COLUMN from_user_id TYPE BIGINT;
ALTER TABLE collection_shares ALTER COLUMN to_user_id TYPE BIGINT;

ALTER TABLE collections ALTER COLUMN collection_id TYPE BIGINT;
ALTER TABLE collections ALTER COLUMN owner_id TYPE BIGINT;
""",
        expect=('expand!', 'expand!', 'expand!', 'expand!', 'expand!', 'expand!'),
        schema='CREATE TABLE collection_files (collection_id integer);\nCREATE TABLE collection_shares (collection_id integer, from_user_id integer, to_user_id integer);\nCREATE TABLE collections (collection_id integer, owner_id integer);',
        note="column types as ente's 1_*.up.sql created them (INTEGER ids)",
    ),
    # ente-io/ente:server/migrations/117_add_non_profit_storage_bonus_type.up.sql
    Snippet(
        'ente-io/ente:server/migrations/117_add_non_profit_storage_bonus_type.up.sql',
        """\
ALTER TABLE storage_bonus
    DROP CONSTRAINT IF EXISTS storage_bonus_type_check;

ALTER TABLE storage_bonus
    ADD CONSTRAINT storage_bonus_type_check
        CHECK (type IN ('REFERRAL', 'SIGN_UP', 'ANNIVERSARY', 'ADD_ON_BF_2023', 'ADD_ON_SUPPORT', 'ADD_ON_BF_2024', 'ADD_ON_NON_PROFIT'));
""",
        expect=('expand', 'contract!'),
    ),
    # ente-io/ente:server/migrations/122_passkey_rp_ids.up.sql
    Snippet(
        'ente-io/ente:server/migrations/122_passkey_rp_ids.up.sql',
        """\
ALTER TABLE passkey_credentials
    ADD COLUMN IF NOT EXISTS rp_id TEXT;

ALTER TABLE webauthn_sessions
    ADD COLUMN IF NOT EXISTS rp_id TEXT;
""",
        expect=('expand', 'expand'),
    ),
    # ente-io/ente:server/migrations/90_use_string_id_entity.up.sql
    Snippet(
        'ente-io/ente:server/migrations/90_use_string_id_entity.up.sql',
        """\
BEGIN;
ALTER TABLE entity_data ADD COLUMN id_text TEXT;
UPDATE entity_data SET id_text = id::TEXT;
ALTER TABLE entity_data ALTER COLUMN id_text SET NOT NULL;
ALTER TABLE entity_data DROP CONSTRAINT entity_data_pkey;
ALTER TABLE entity_data DROP COLUMN IF EXISTS id;
ALTER TABLE entity_data RENAME COLUMN id_text TO id;
ALTER TABLE entity_data ADD PRIMARY KEY (id);
END;
""",
        expect=('expand', 'expand', 'expand!', 'breaking!', 'contract', 'contract', 'breaking', 'contract!', 'expand'),
        transaction=False,
    ),
    # ente-io/ente:server/migrations/102_trash_vaccume_and_analyze_threshold.up.sql
    Snippet(
        'ente-io/ente:server/migrations/102_trash_vaccume_and_analyze_threshold.up.sql',
        """\
ALTER TABLE trash SET (
    autovacuum_analyze_scale_factor = 0.01,  -- Trigger ANALYZE after 1% of rows change
    autovacuum_vacuum_scale_factor = 0.02,   -- Trigger VACUUM after 2% of rows change
    autovacuum_analyze_threshold = 1000,
    autovacuum_vacuum_threshold = 1000
);
""",
        expect=('expand',),
    ),
    # ente-io/ente:server/migrations/100_add_upgraded_at.up.sql
    Snippet(
        'ente-io/ente:server/migrations/100_add_upgraded_at.up.sql',
        """\
ALTER TABLE subscriptions ADD COLUMN upgraded_at BIGINT DEFAULT 0;
""",
        expect=('expand',),
    ),
    # ente-io/ente:server/migrations/101_fix_free_storage_expiry.up.sql
    Snippet(
        'ente-io/ente:server/migrations/101_fix_free_storage_expiry.up.sql',
        """\
UPDATE subscriptions SET expiry_time = 4749355117000000 where storage = 10737418240 and product_id = 'free';
""",
        expect=('expand!',),
    ),
    # ente-io/ente:server/migrations/40_advance_url_settings.up.sql
    Snippet(
        'ente-io/ente:server/migrations/40_advance_url_settings.up.sql',
        """\
BEGIN;
ALTER table public_collection_tokens
    ADD COLUMN IF NOT EXISTS pw_hash         TEXT,
    ADD COLUMN IF NOT EXISTS pw_nonce        TEXT,
    ADD COLUMN IF NOT EXISTS mem_limit       BIGINT,
    ADD COLUMN IF NOT EXISTS ops_limit       BIGINT,
    ADD COLUMN IF NOT EXISTS enable_download bool DEFAULT TRUE,
    ADD COLUMN IF NOT EXISTS enable_comment  bool DEFAULT FALSE;

UPDATE public_collection_tokens
SET enable_download = TRUE,
    enable_comment  = FALSE;

ALTER TABLE public_collection_tokens
    ALTER COLUMN enable_download SET NOT NULL,
    ALTER COLUMN enable_comment SET NOT NULL;

ALTER TABLE public_collection_tokens
    ADD CONSTRAINT pct_pw_state_constraint CHECK ( (pw_hash is NULL and pw_nonce is NULL) or
                                                   (pw_hash is NOT NULL and pw_nonce is NOT NULL));
COMMIT;
""",
        expect=('expand', 'expand', 'expand!', 'expand!', 'contract!', 'expand'),
        transaction=False,
    ),
    # ente-io/ente:server/migrations/104_rs_custom_domain.up.sql
    Snippet(
        'ente-io/ente:server/migrations/104_rs_custom_domain.up.sql',
        """\
CREATE UNIQUE INDEX IF NOT EXISTS remote_store_custom_domain_unique_idx
    ON remote_store (key_value)
    WHERE key_name = 'customDomain';
""",
        expect=('contract!',),
    ),
    # ente-io/ente:server/migrations/22_add_location_tag_table.up.sql
    Snippet(
        'ente-io/ente:server/migrations/22_add_location_tag_table.up.sql',
        """\
CREATE OR REPLACE FUNCTION now_utc_micro_seconds() RETURNS BIGINT AS
$$
SELECT CAST(extract(EPOCH from now() at time zone 'utc') * 1000000 as BIGINT) ;
$$ language sql;

-- We can reuse this func to create triggers in other tables.
CREATE OR REPLACE FUNCTION trigger_updated_at_microseconds_column()
    RETURNS TRIGGER AS
$$
BEGIN
    NEW.updated_at = now_utc_micro_seconds();
    RETURN NEW;
END;
$$ language 'plpgsql';

CREATE TABLE IF NOT EXISTS location_tag
(
    id                   uuid PRIMARY KEY NOT NULL,
    user_id              INTEGER          NOT NULL,
    provider             TEXT             NOT NULL DEFAULT 'USER',
    is_deleted           BOOLEAN          NOT NULL DEFAULT FALSE,
    created_at           bigint           NOT NULL DEFAULT now_utc_micro_seconds(),
    updated_at           bigint           NOT NULL DEFAULT now_utc_micro_seconds(),
    encrypted_key        TEXT             NOT NULL,
    key_decryption_nonce TEXT             NOT NULL,
    attributes           JSONB            NOT NULL,
    CONSTRAINT fk_location_tag_user_id
        FOREIGN KEY (user_id)
            REFERENCES users (user_id)
            ON DELETE CASCADE
);

CREATE TRIGGER update_location_tag_updated_at
    BEFORE UPDATE
    ON location_tag
    FOR EACH ROW
EXECUTE PROCEDURE
    trigger_updated_at_microseconds_column();
""",
        expect=('expand', 'expand', 'expand', 'expand'),
    ),
    # ente-io/ente:server/migrations/46_replication_v2.up.sql
    Snippet(
        'ente-io/ente:server/migrations/46_replication_v2.up.sql',
        """\
ALTER TYPE s3region ADD VALUE 'scw-eu-fr-locked';
""",
        expect=('expand',),
    ),
    # ente-io/ente:server/migrations/96_storage_table_families.up.sql
    Snippet(
        'ente-io/ente:server/migrations/96_storage_table_families.up.sql',
        """\
ALTER TABLE families
ADD COLUMN storage_limit BIGINT;
""",
        expect=('expand',),
    ),
    # goharbor/harbor:make/migrations/postgresql/0003_add_replication_op_uuid.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0003_add_replication_op_uuid.up.sql',
        """\
ALTER TABLE replication_job ADD COLUMN op_uuid varchar(64);
""",
        expect=('expand',),
    ),
    # goharbor/harbor:make/migrations/postgresql/0011_1.9.1_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0011_1.9.1_schema.up.sql',
        """\
ALTER TABLE harbor_user ADD COLUMN password_version varchar(16) Default 'sha256';
UPDATE harbor_user SET password_version = 'sha1';
""",
        expect=('expand', 'expand!'),
    ),
    # goharbor/harbor:make/migrations/postgresql/0012_1.9.4_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0012_1.9.4_schema.up.sql',
        """\
/* change the data type to text to accommodate larger data */
ALTER TABLE properties ALTER COLUMN v TYPE text;
""",
        expect=('expand',),
        schema='create table properties (\n id SERIAL NOT NULL,\n k varchar(64) NOT NULL,\n v varchar(128) NOT NULL,\n PRIMARY KEY(id),\n UNIQUE (k)\n );',
        note="properties as harbor's 0001_initial_schema.up.sql created it",
    ),
    # goharbor/harbor:make/migrations/postgresql/0041_2.1.4_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0041_2.1.4_schema.up.sql',
        """\
/*
When upgrading from 2.0 to 2.1, the status and revision of retention schedule execution isn't migrated, correct them here.
As v2.2.0 isn't usable because of several serious bugs, we won't support upgrade from 2.1.4 to 2.2.0 anymore. After we add the
sql file here, users will get error when upgrading from 2.1.4 to 2.2.0 because of this sql file doesn't exist on 2.2.0
*/
UPDATE execution
SET revision=0, status=task.status
FROM task
WHERE execution.id=task.execution_id AND execution.vendor_type='SCHEDULER' AND execution.revision IS NULL;
""",
        expect=('expand!',),
    ),
    # goharbor/harbor:make/migrations/postgresql/0051_2.2.1_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0051_2.2.1_schema.up.sql',
        """\
/*fixes #14358*/
UPDATE execution SET status='Success' WHERE status='Succeed';

CREATE INDEX IF NOT EXISTS task_execution_id_idx ON task (execution_id);
""",
        expect=('expand!', 'expand!'),
    ),
    # goharbor/harbor:make/migrations/postgresql/0052_2.2.2_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0052_2.2.2_schema.up.sql',
        """\
ALTER TABLE schedule ADD COLUMN IF NOT EXISTS revision integer;
UPDATE schedule set revision = 0;
""",
        expect=('expand', 'expand!'),
    ),
    # goharbor/harbor:make/migrations/postgresql/0053_2.2.3_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0053_2.2.3_schema.up.sql',
        """\
CREATE INDEX IF NOT EXISTS idx_artifact_push_time ON artifact (push_time);
CREATE INDEX IF NOT EXISTS idx_tag_push_time ON tag (push_time);
CREATE INDEX IF NOT EXISTS idx_tag_artifact_id ON tag (artifact_id);
CREATE INDEX IF NOT EXISTS idx_artifact_reference_child_id ON artifact_reference (child_id);
""",
        expect=('expand!', 'expand!', 'expand!', 'expand!'),
    ),
    # goharbor/harbor:make/migrations/postgresql/0061_2.3.4_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0061_2.3.4_schema.up.sql',
        """\
UPDATE harbor_user SET email=NULL WHERE email=''
""",
        expect=('expand!',),
    ),
    # goharbor/harbor:make/migrations/postgresql/0070_2.4.0_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0070_2.4.0_schema.up.sql',
        """\
/* cleanup deleted user project members */
DELETE FROM project_member pm WHERE pm.entity_type = 'u' AND EXISTS (SELECT NULL FROM harbor_user u WHERE pm.entity_id = u.user_id AND u.deleted = true );

ALTER TABLE replication_policy ADD COLUMN IF NOT EXISTS speed_kb int;

/* add version fields for lock free quota */
ALTER TABLE quota ADD COLUMN IF NOT EXISTS version bigint DEFAULT 0;
ALTER TABLE quota_usage ADD COLUMN IF NOT EXISTS version bigint DEFAULT 0;

/* convert Negligible to None for the severity of the vulnerability record */
UPDATE vulnerability_record SET severity='None' WHERE severity='Negligible';
""",
        expect=('contract!', 'expand', 'expand', 'expand', 'expand!'),
    ),
    # goharbor/harbor:make/migrations/postgresql/0071_2.4.2_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0071_2.4.2_schema.up.sql',
        """\
/* Remove old version scan reports of trivy */
DELETE FROM scan_report WHERE mime_type='application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0' AND registration_uuid IN (SELECT uuid FROM scanner_registration WHERE name='Trivy' AND immutable='true');
""",
        expect=('contract!',),
    ),
    # goharbor/harbor:make/migrations/postgresql/0082_2.5.3_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0082_2.5.3_schema.up.sql',
        """\
/* repair execution status */
DO $$
DECLARE
    exec RECORD;
    status_group RECORD;
    status_count int;
    final_status varchar(32);
BEGIN
    /* iterate all executions */
    FOR exec IN SELECT * FROM execution WHERE status='Running'
    LOOP
        /* identify incorrect execution status, group tasks belong it by status */
        status_count = 0;
        final_status = '';
        FOR status_group IN SELECT status FROM task WHERE execution_id=exec.id GROUP BY status
        /* loop here to ensure all the tasks belong to the execution are success */
        LOOP
            status_count = status_count + 1;
            final_status = status_group.status;
        END LOOP;
        /* update status and end_time when the tasks are all
        success but itself status is not success */
        IF status_count=1 AND final_status='Success' THEN
            UPDATE execution SET status='Success', revision=revision+1 WHERE id=exec.id;
            UPDATE execution SET end_time=(SELECT MAX(end_time) FROM task WHERE execution_id=exec.id) WHERE id=exec.id;
        END IF;
    END LOOP;
END $$;
""",
        expect=('expand!',),
    ),
    # goharbor/harbor:make/migrations/postgresql/0111_2.8.1_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0111_2.8.1_schema.up.sql',
        """\
CREATE INDEX IF NOT EXISTS idx_task_extra_attrs_report_uuids ON task USING gin ((extra_attrs::jsonb->'report_uuids'));
""",
        expect=('expand!',),
    ),
    # goharbor/harbor:make/migrations/postgresql/0130_2.10.0_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0130_2.10.0_schema.up.sql',
        """\
DROP TABLE IF EXISTS harbor_resource_label;

CREATE INDEX IF NOT EXISTS idx_artifact_accessory_subject_artifact_id ON artifact_accessory (subject_artifact_id);
""",
        expect=('contract', 'expand!'),
    ),
    # goharbor/harbor:make/migrations/postgresql/0150_2.12.0_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0150_2.12.0_schema.up.sql',
        """\
/*
Add new column creator_ref and creator_type for robot table to record the creator information of the robot
*/
ALTER TABLE robot ADD COLUMN IF NOT EXISTS creator_ref integer default 0;
ALTER TABLE robot ADD COLUMN IF NOT EXISTS creator_type varchar(255);

ALTER TABLE p2p_preheat_policy ADD COLUMN IF NOT EXISTS scope varchar(255);
""",
        expect=('expand', 'expand', 'expand'),
    ),
    # goharbor/harbor:make/migrations/postgresql/0160_2.13.0_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0160_2.13.0_schema.up.sql',
        """\
ALTER TABLE p2p_preheat_policy DROP COLUMN IF EXISTS scope;
ALTER TABLE p2p_preheat_policy ADD COLUMN IF NOT EXISTS extra_attrs text;

CREATE TABLE IF NOT EXISTS audit_log_ext
(
	id BIGSERIAL PRIMARY KEY NOT NULL,
	project_id BIGINT,
	operation VARCHAR(50) NULL,
	resource_type VARCHAR(255) NULL,
	resource VARCHAR(1024) NULL,
	username VARCHAR(255) NULL,
	op_desc VARCHAR(1024) NULL,
	op_result BOOLEAN DEFAULT true,
	payload TEXT NULL,
	source_ip VARCHAR(50) NULL,
	op_time TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

-- add index to the audit_log_ext table
CREATE INDEX IF NOT EXISTS idx_audit_log_ext_op_time ON audit_log_ext (op_time);
CREATE INDEX IF NOT EXISTS idx_audit_log_ext_project_id_optime ON audit_log_ext (project_id, op_time);
CREATE INDEX IF NOT EXISTS idx_audit_log_ext_project_id_resource_type ON audit_log_ext (project_id, resource_type);
CREATE INDEX IF NOT EXISTS idx_audit_log_ext_project_id_operation ON audit_log_ext (project_id, operation);
""",
        expect=('contract', 'expand', 'expand', 'expand', 'expand', 'expand', 'expand'),
    ),
    # goharbor/harbor:make/migrations/postgresql/0170_2.14.0_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0170_2.14.0_schema.up.sql',
        """\
ALTER TABLE role_permission ALTER COLUMN id TYPE BIGINT;
ALTER SEQUENCE role_permission_id_seq AS BIGINT;

ALTER TABLE permission_policy ALTER COLUMN id TYPE BIGINT;
ALTER SEQUENCE permission_policy_id_seq AS BIGINT;

ALTER TABLE role_permission ALTER COLUMN permission_policy_id TYPE BIGINT;

ALTER TABLE vulnerability_record ADD COLUMN IF NOT EXISTS status text;

ALTER TABLE replication_policy ADD COLUMN IF NOT EXISTS single_active_replication boolean;
""",
        expect=('expand!', 'expand', 'expand!', 'expand', 'expand!', 'expand', 'expand'),
        schema='CREATE TABLE role_permission (id SERIAL PRIMARY KEY NOT NULL, role_type varchar(255) NOT NULL, role_id int NOT NULL, permission_policy_id int NOT NULL);\nCREATE TABLE permission_policy (id SERIAL PRIMARY KEY NOT NULL, scope varchar(255) NOT NULL);\nCREATE TABLE vulnerability_record (id BIGSERIAL PRIMARY KEY NOT NULL);\nCREATE TABLE replication_policy (id SERIAL PRIMARY KEY NOT NULL);',
        note="column types as harbor's 0050_2.2.0_schema.up.sql created them",
    ),
    # goharbor/harbor:make/migrations/postgresql/0181_2.15.3_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0181_2.15.3_schema.up.sql',
        """\
/*
Convert setup_timestamp in p2p_preheat_instance, status_revision in task, and revision in schedule to bigint to avoid y2k38 overflow, issue #23711.
*/
ALTER TABLE p2p_preheat_instance ALTER COLUMN setup_timestamp TYPE bigint;
ALTER TABLE task ALTER COLUMN status_revision TYPE bigint;
ALTER TABLE schedule ALTER COLUMN revision TYPE bigint;
""",
        expect=('expand!', 'expand!', 'expand!'),
        schema='CREATE TABLE p2p_preheat_instance (id SERIAL PRIMARY KEY NOT NULL, setup_timestamp int);\nCREATE TABLE task (id SERIAL PRIMARY KEY NOT NULL, status_revision integer);\nCREATE TABLE schedule (id SERIAL PRIMARY KEY NOT NULL, revision integer);',
        note="column types as harbor's 0030/0040/0052 migrations created them",
    ),
    # goharbor/harbor:make/migrations/postgresql/0190_2.16.0_schema.up.sql
    Snippet(
        'goharbor/harbor:make/migrations/postgresql/0190_2.16.0_schema.up.sql',
        """\
ALTER TABLE artifact_accessory ADD COLUMN IF NOT EXISTS source varchar(50) DEFAULT 'local';

/*
Increase the length of the registry access_key column so it can store long-form credentials.

This keeps access_key consistent with access_secret, which is already varchar(4096).

See: https://github.com/goharbor/harbor/issues/23303
*/
ALTER TABLE registry ALTER COLUMN access_key TYPE varchar(4096);

/*
Convert the robot account ID columns to bigint to avoid running out of the int4 range, issue #23091.
*/
ALTER TABLE robot ALTER COLUMN id TYPE bigint;
ALTER TABLE robot ALTER COLUMN creator_ref TYPE bigint;
ALTER TABLE role_permission ALTER COLUMN role_id TYPE bigint;
ALTER SEQUENCE robot_id_seq AS bigint MAXVALUE 9007199254740991;
""",
        expect=('expand', 'expand', 'expand!', 'expand!', 'expand!', 'expand'),
        schema='CREATE TABLE artifact_accessory (id SERIAL PRIMARY KEY NOT NULL);\nCREATE TABLE registry (id SERIAL PRIMARY KEY NOT NULL, access_key varchar(255));\nCREATE TABLE robot (id SERIAL PRIMARY KEY NOT NULL, creator_ref integer default 0);\nCREATE TABLE role_permission (id SERIAL PRIMARY KEY NOT NULL, role_id int NOT NULL);',
        note="column types as harbor's 0001/0004/0150 migrations created them",
    ),
    # LemmyNet/lemmy:migrations/2021-11-22-143904_add_required_public_key/up.sql
    Snippet(
        'LemmyNet/lemmy:migrations/2021-11-22-143904_add_required_public_key/up.sql',
        """\
-- Delete the empty public keys
DELETE FROM community
WHERE public_key IS NULL;

DELETE FROM person
WHERE public_key IS NULL;

-- Make it required
ALTER TABLE community
    ALTER COLUMN public_key SET NOT NULL;

ALTER TABLE person
    ALTER COLUMN public_key SET NOT NULL;
""",
        expect=('contract!', 'contract!', 'contract!', 'contract!'),
    ),
    # LemmyNet/lemmy:migrations/2025-08-01-000006_default_comment_sort_type/up.sql
    Snippet(
        'LemmyNet/lemmy:migrations/2025-08-01-000006_default_comment_sort_type/up.sql',
        """\
-- Rename the post sort enum
ALTER TYPE sort_type_enum RENAME TO post_sort_type_enum;

-- Rename the default post sort columns
ALTER TABLE local_user RENAME COLUMN default_sort_type TO default_post_sort_type;

ALTER TABLE local_site RENAME COLUMN default_sort_type TO default_post_sort_type;

-- Create the comment sort type enum
CREATE TYPE comment_sort_type_enum AS ENUM (
    'Hot',
    'Top',
    'New',
    'Old',
    'Controversial'
);

-- Add the new default comment sort columns to local_user and local_site
ALTER TABLE local_user
    ADD COLUMN default_comment_sort_type comment_sort_type_enum NOT NULL DEFAULT 'Hot';

ALTER TABLE local_site
    ADD COLUMN default_comment_sort_type comment_sort_type_enum NOT NULL DEFAULT 'Hot';
""",
        expect=('breaking', 'breaking', 'breaking', 'expand', 'expand', 'expand'),
    ),
    # LemmyNet/lemmy:migrations/2023-05-10-095739_force_enable_undetermined_language/up.sql
    Snippet(
        'LemmyNet/lemmy:migrations/2023-05-10-095739_force_enable_undetermined_language/up.sql',
        """\
-- force enable undetermined language for all users
INSERT INTO local_user_language (local_user_id, language_id)
SELECT
    id,
    0
FROM
    local_user
ON CONFLICT (local_user_id,
    language_id)
    DO NOTHING;
""",
        expect=('expand',),
    ),
    # LemmyNet/lemmy:migrations/2025-03-07-094522_enable_english_for_all/up.sql
    Snippet(
        'LemmyNet/lemmy:migrations/2025-03-07-094522_enable_english_for_all/up.sql',
        """\
-- enable english for all users on instances with all languages enabled.
-- Fix for https://github.com/LemmyNet/lemmy/pull/5485
DO $$
BEGIN
    IF (
        SELECT
            count(*)
        FROM
            site_language
                INNER JOIN local_site ON site_language.site_id = local_site.site_id) = 184 THEN
        INSERT INTO local_user_language (local_user_id, language_id)
        SELECT
            local_user_id,
            37
        FROM
            local_user_language
        GROUP BY
            local_user_id
        HAVING
            NOT (37 = ANY (array_agg(language_id)));
    END IF;
END
$$
""",
        expect=('expand',),
    ),
    # LemmyNet/lemmy:migrations/2025-08-01-000014_private-community/up.sql
    Snippet(
        'LemmyNet/lemmy:migrations/2025-08-01-000014_private-community/up.sql',
        """\
ALTER TYPE community_visibility
    ADD value 'Private';

-- Change `community_follower.pending` to `state` enum
CREATE TYPE community_follower_state AS enum (
    'Accepted',
    'Pending',
    'ApprovalRequired'
);

ALTER TABLE community_follower
    ALTER COLUMN pending DROP DEFAULT;

CREATE OR REPLACE FUNCTION convert_follower_state (b bool)
    RETURNS community_follower_state
    LANGUAGE sql
    IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT
        CASE WHEN b = TRUE THEN
            'Pending'::community_follower_state
        ELSE
            'Accepted'::community_follower_state
        END
$$;

ALTER TABLE community_follower
    ALTER COLUMN pending TYPE community_follower_state
    USING convert_follower_state (pending);

DROP FUNCTION convert_follower_state;

ALTER TABLE community_follower RENAME COLUMN pending TO state;

-- Add column for mod who approved the private community follower
-- Dont use foreign key here, otherwise joining to person table doesnt work easily
ALTER TABLE community_follower
    ADD COLUMN approver_id int REFERENCES person ON UPDATE CASCADE ON DELETE CASCADE;

-- Enable signed fetch, necessary to fetch content in private communities
ALTER TABLE ONLY local_site
    ALTER COLUMN federation_signed_fetch SET DEFAULT TRUE;

UPDATE
    local_site
SET
    federation_signed_fetch = TRUE;
""",
        expect=('expand', 'expand', 'contract', 'expand', 'breaking!', 'expand', 'breaking', 'expand', 'expand', 'expand!'),
    ),
    # LemmyNet/lemmy:migrations/2026-03-19-234307-0000_same_table_joins/up.sql
    Snippet(
        'LemmyNet/lemmy:migrations/2026-03-19-234307-0000_same_table_joins/up.sql',
        """\
-- This adds (sometimes redundant) id columns to source tables, so that views can be built without needing to cascade joins to multiple tables.
-- Add a redundant community_id back to the comment table
ALTER TABLE comment
    ADD COLUMN community_id int REFERENCES community (id) ON UPDATE CASCADE ON DELETE CASCADE;

-- Disable the triggers temporarily
ALTER TABLE comment DISABLE TRIGGER ALL;

-- disable all table indexes
UPDATE
    pg_index
SET
    indisready = FALSE
WHERE
    indrelid = (
        SELECT
            oid
        FROM
            pg_class
        WHERE
            relname = 'comment');

-- Fill the rows
UPDATE
    comment AS c
SET
    community_id = p.community_id
FROM
    post AS p
WHERE
    c.post_id = p.id;

-- Set it to not null
ALTER TABLE comment
    ALTER COLUMN community_id SET NOT NULL;

-- Re-enable triggers after update
ALTER TABLE comment ENABLE TRIGGER ALL;

-- Re-enable indexes
UPDATE
    pg_index
SET
    indisready = TRUE
WHERE
    indrelid = (
        SELECT
            oid
        FROM
            pg_class
        WHERE
            relname = 'comment');

-- reindex
REINDEX TABLE comment;

CREATE INDEX idx_comment_community ON comment (community_id);
""",
        expect=('expand', 'expand', 'expand', 'expand!', 'breaking!', 'expand', 'expand', 'expand!', 'expand!'),
    ),
    # LemmyNet/lemmy:migrations/2020-08-25-132005_add_unique_ap_ids/up.sql
    Snippet(
        'LemmyNet/lemmy:migrations/2020-08-25-132005_add_unique_ap_ids/up.sql',
        """\
-- Add unique ap_id for private_message, comment, and post
-- Need to delete the possible dupes for ones that don't start with the fake one
DELETE FROM private_message a USING (
    SELECT
        min(id) AS id,
        ap_id
    FROM
        private_message
    GROUP BY
        ap_id
    HAVING
        count(*) > 1) b
WHERE
    a.ap_id = b.ap_id
    AND a.id <> b.id;

DELETE FROM post a USING (
    SELECT
        min(id) AS id,
        ap_id
    FROM
        post
    GROUP BY
        ap_id
    HAVING
        count(*) > 1) b
WHERE
    a.ap_id = b.ap_id
    AND a.id <> b.id;

DELETE FROM comment a USING (
    SELECT
        min(id) AS id,
        ap_id
    FROM
        comment
    GROUP BY
        ap_id
    HAVING
        count(*) > 1) b
WHERE
    a.ap_id = b.ap_id
    AND a.id <> b.id;

-- Replacing the current default on the columns, to the unique one
UPDATE
    private_message
SET
    ap_id = generate_unique_changeme ()
WHERE
    ap_id = 'http://fake.com';

UPDATE
    post
SET
    ap_id = generate_unique_changeme ()
WHERE
    ap_id = 'http://fake.com';

UPDATE
    comment
SET
    ap_id = generate_unique_changeme ()
WHERE
    ap_id = 'http://fake.com';

-- Add the unique indexes
ALTER TABLE private_message
    ALTER COLUMN ap_id SET NOT NULL;

ALTER TABLE private_message
    ALTER COLUMN ap_id SET DEFAULT generate_unique_changeme ();

ALTER TABLE post
    ALTER COLUMN ap_id SET NOT NULL;

ALTER TABLE post
    ALTER COLUMN ap_id SET DEFAULT generate_unique_changeme ();

ALTER TABLE comment
    ALTER COLUMN ap_id SET NOT NULL;

ALTER TABLE comment
    ALTER COLUMN ap_id SET DEFAULT generate_unique_changeme ();

-- Add the uniques, for user_ and community too
ALTER TABLE private_message
    ADD CONSTRAINT idx_private_message_ap_id UNIQUE (ap_id);

ALTER TABLE post
    ADD CONSTRAINT idx_post_ap_id UNIQUE (ap_id);

ALTER TABLE comment
    ADD CONSTRAINT idx_comment_ap_id UNIQUE (ap_id);

ALTER TABLE user_
    ADD CONSTRAINT idx_user_actor_id UNIQUE (actor_id);

ALTER TABLE community
    ADD CONSTRAINT idx_community_actor_id UNIQUE (actor_id);
""",
        expect=('contract!', 'contract!', 'contract!', 'expand!', 'expand!', 'expand!', 'contract!', 'expand', 'contract!', 'expand', 'contract!', 'expand', 'contract!', 'contract!', 'contract!', 'contract!', 'contract!'),
    ),
    # LemmyNet/lemmy:migrations/2023-08-02-174444_fix-timezones/up.sql
    Snippet(
        'LemmyNet/lemmy:migrations/2023-08-02-174444_fix-timezones/up.sql',
        """\
DROP FUNCTION IF EXISTS hot_rank CASCADE;

SET timezone = 'UTC';

--  Allow ALTER TABLE ... SET DATA TYPE changing between timestamp and timestamptz to avoid a table rewrite when the session time zone is UTC (Noah Misch)
-- In the UTC time zone, these two data types are binary compatible.
ALTER TABLE community_moderator
    ALTER COLUMN published TYPE timestamptz
    USING published;

ALTER TABLE community_follower
    ALTER COLUMN published TYPE timestamptz
    USING published;

ALTER TABLE person_ban
    ALTER COLUMN published TYPE timestamptz
    USING published;

ALTER TABLE community_person_ban
    ALTER COLUMN published TYPE timestamptz
    USING published;

ALTER TABLE community_person_ban
    ALTER COLUMN expires TYPE timestamptz
    USING expires;
""",
        expect=('contract', 'expand', 'breaking', 'breaking', 'breaking', 'breaking', 'breaking'),
    ),
    # LemmyNet/lemmy:migrations/2025-09-12-093537_mod-reason-mandatory/up.sql
    Snippet(
        'LemmyNet/lemmy:migrations/2025-09-12-093537_mod-reason-mandatory/up.sql',
        """\
-- provide default value for null rows
UPDATE
    admin_allow_instance
SET
    reason = 'No reason given'
WHERE
    reason IS NULL;

UPDATE
    admin_ban
SET
    reason = 'No reason given'
WHERE
    reason IS NULL;

UPDATE
    admin_block_instance
SET
    reason = 'No reason given'
WHERE
    reason IS NULL;

UPDATE
    admin_purge_comment
SET
    reason = 'No reason given'
WHERE
    reason IS NULL;
""",
        expect=('expand!', 'expand!', 'expand!', 'expand!'),
    ),
    # LemmyNet/lemmy:migrations/2022-09-08-102358_site-and-community-languages/up.sql
    Snippet(
        'LemmyNet/lemmy:migrations/2022-09-08-102358_site-and-community-languages/up.sql',
        """\
CREATE TABLE site_language (
    id serial PRIMARY KEY,
    site_id int REFERENCES site ON UPDATE CASCADE ON DELETE CASCADE NOT NULL,
    language_id int REFERENCES
    LANGUAGE ON
    UPDATE CASCADE ON DELETE CASCADE NOT NULL,
    UNIQUE (site_id, language_id)
);

CREATE TABLE community_language (
    id serial PRIMARY KEY,
    community_id int REFERENCES community ON UPDATE CASCADE ON DELETE CASCADE NOT NULL,
    language_id int REFERENCES
    LANGUAGE ON
    UPDATE CASCADE ON DELETE CASCADE NOT NULL,
    UNIQUE (community_id, language_id)
);

-- update existing users, sites and communities to have all languages enabled
DO $$
DECLARE
    xid integer;
BEGIN
    FOR xid IN
    SELECT
        id
    FROM
        local_user LOOP
            INSERT INTO local_user_language (local_user_id, language_id) (
                SELECT
                    xid,
                    language.id AS lid
                FROM
                    LANGUAGE);
        END LOOP;
    FOR xid IN
    SELECT
        id
    FROM
        site LOOP
            INSERT INTO site_language (site_id, language_id) (
                SELECT
                    xid,
                    language.id AS lid
                FROM
                    LANGUAGE);
        END LOOP;
    FOR xid IN
    SELECT
        id
    FROM
        community LOOP
            INSERT INTO community_language (community_id, language_id) (
                SELECT
                    xid,
                    language.id AS lid
                FROM
                    LANGUAGE);
        END LOOP;
END;
$$;
""",
        expect=('expand', 'expand', 'expand'),
    ),
    # matrix-org/synapse:synapse/storage/schema/main/delta/77/01_add_profiles_not_valid_check.sql.postgres
    Snippet(
        'matrix-org/synapse:synapse/storage/schema/main/delta/77/01_add_profiles_not_valid_check.sql.postgres',
        """\
/* Copyright 2023 The Matrix.org Foundation C.I.C
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *    http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

ALTER TABLE profiles ADD CONSTRAINT full_user_id_not_null CHECK (full_user_id IS NOT NULL) NOT VALID;
""",
        expect=('contract',),
    ),
    # matrix-org/synapse:synapse/storage/schema/main/delta/74/03_membership_tables_event_stream_ordering.sql.postgres
    Snippet(
        'matrix-org/synapse:synapse/storage/schema/main/delta/74/03_membership_tables_event_stream_ordering.sql.postgres',
        """\
/* Copyright 2022 Beeper
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *    http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

-- Each of these are denormalised copies of `stream_ordering` from the corresponding row in` events` which
-- we use to improve database performance by reduring JOINs.

-- NOTE: these are set to NOT VALID to prevent locks while adding the column on large existing tables,
-- which will be validated in a later migration. For all new/updated rows the FKEY will be checked.

ALTER TABLE current_state_events ADD COLUMN event_stream_ordering BIGINT;
ALTER TABLE current_state_events ADD CONSTRAINT event_stream_ordering_fkey FOREIGN KEY (event_stream_ordering) REFERENCES events(stream_ordering) NOT VALID;

ALTER TABLE local_current_membership ADD COLUMN event_stream_ordering BIGINT;
ALTER TABLE local_current_membership ADD CONSTRAINT event_stream_ordering_fkey FOREIGN KEY (event_stream_ordering) REFERENCES events(stream_ordering) NOT VALID;

ALTER TABLE room_memberships ADD COLUMN event_stream_ordering BIGINT;
ALTER TABLE room_memberships ADD CONSTRAINT event_stream_ordering_fkey FOREIGN KEY (event_stream_ordering) REFERENCES events(stream_ordering) NOT VALID;
""",
        expect=('expand', 'contract', 'expand', 'contract', 'expand', 'contract'),
    ),
    # matrix-org/synapse:synapse/storage/schema/main/delta/77/06thread_notifications_not_null_event_push_actions.sql.postgres
    Snippet(
        'matrix-org/synapse:synapse/storage/schema/main/delta/77/06thread_notifications_not_null_event_push_actions.sql.postgres',
        """\
/* Copyright 2022 The Matrix.org Foundation C.I.C
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *    http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

-- The thread_id columns can now be made non-nullable, this is done by using a
-- constraint (and not altering the column) to avoid taking out a full table lock.
--
-- We initially add an invalid constraint which guards against new data (this
-- doesn't lock the table).
ALTER TABLE event_push_actions
    ADD CONSTRAINT event_push_actions_thread_id CHECK (thread_id IS NOT NULL) NOT VALID;

-- We then validate the constraint which doesn't need to worry about new data. It
-- only needs a SHARE UPDATE EXCLUSIVE lock but can still take a while to complete.
INSERT INTO background_updates (ordering, update_name, progress_json, depends_on) VALUES
  (7706, 'event_push_actions_thread_id', '{}', 'event_push_actions_staging_thread_id');
""",
        expect=('contract', 'expand'),
    ),
    # matrix-org/synapse:synapse/storage/schema/main/delta/80/01_users_alter_locked.sql
    Snippet(
        'matrix-org/synapse:synapse/storage/schema/main/delta/80/01_users_alter_locked.sql',
        """\
/* Copyright 2023 The Matrix.org Foundation C.I.C.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *    http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

ALTER TABLE users ADD locked BOOLEAN DEFAULT FALSE NOT NULL;
""",
        expect=('expand',),
    ),
    # matrix-org/synapse:synapse/storage/schema/main/delta/80/02_read_write_locks_unlogged.sql.postgres
    Snippet(
        'matrix-org/synapse:synapse/storage/schema/main/delta/80/02_read_write_locks_unlogged.sql.postgres',
        """\
/* Copyright 2023 The Matrix.org Foundation C.I.C
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *    http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

-- Mark the worker_read_write_locks* tables as UNLOGGED, to increase
-- performance. This means that we don't replicate the tables, and they get
-- truncated on a crash. This is acceptable as a) in those cases it's likely
-- that Synapse needs to be stopped/restarted anyway, and b) the locks are
-- considered best-effort anyway.

-- We need to remove and recreate the circular foreign key references, as
-- UNLOGGED tables can't reference normal tables.
ALTER TABLE worker_read_write_locks_mode DROP CONSTRAINT IF EXISTS worker_read_write_locks_mode_foreign;

ALTER TABLE worker_read_write_locks SET UNLOGGED;
ALTER TABLE worker_read_write_locks_mode SET UNLOGGED;

ALTER TABLE worker_read_write_locks_mode ADD CONSTRAINT worker_read_write_locks_mode_foreign
    FOREIGN KEY (lock_name, lock_key, token) REFERENCES worker_read_write_locks(lock_name, lock_key, token) DEFERRABLE INITIALLY DEFERRED;
""",
        expect=('expand', 'expand!', 'expand!', 'contract!'),
    ),
    # matrix-org/synapse:synapse/storage/schema/main/delta/83/01_drop_old_tables.sql
    Snippet(
        'matrix-org/synapse:synapse/storage/schema/main/delta/83/01_drop_old_tables.sql',
        """\
/* Copyright 2023 The Matrix.org Foundation C.I.C
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *    http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

-- Drop the old event transaction ID table, the event_txn_id_device_id table
-- should be used instead.
DROP TABLE IF EXISTS event_txn_id;

-- Drop tables related to MSC2716 since the implementation is being removed
DROP TABLE IF EXISTS insertion_events;
DROP TABLE IF EXISTS insertion_event_edges;
DROP TABLE IF EXISTS insertion_event_extremities;
DROP TABLE IF EXISTS batch_events;
""",
        expect=('contract', 'contract', 'contract', 'contract', 'contract'),
    ),
    # matrix-org/synapse:synapse/storage/schema/main/delta/73/04partial_join_details.sql
    Snippet(
        'matrix-org/synapse:synapse/storage/schema/main/delta/73/04partial_join_details.sql',
        """\
/* Copyright 2022 The Matrix.org Foundation C.I.C
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *    http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

-- To ensure we correctly notify other homeservers about device list changes from our
-- users after a partial join transitions to a full join, we need to know when we began
-- the partial join. For now it's sufficient to know the device_list stream_id at the
-- time of the partial join, and the join event created for us during a partial join.
--
-- Both columns are backwards compatible.
ALTER TABLE partial_state_rooms ADD COLUMN device_lists_stream_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE partial_state_rooms ADD COLUMN join_event_id TEXT REFERENCES events(event_id);
""",
        expect=('expand', 'expand'),
    ),
    # matrix-org/synapse:synapse/storage/schema/main/delta/56/destinations_retry_interval_type.sql.postgres
    Snippet(
        'matrix-org/synapse:synapse/storage/schema/main/delta/56/destinations_retry_interval_type.sql.postgres',
        """\
/* Copyright 2019 The Matrix.org Foundation C.I.C
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *    http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

-- We want to store large retry intervals so we upgrade the column from INT
-- to BIGINT. We don't need to do this on SQLite.
ALTER TABLE destinations ALTER retry_interval SET DATA TYPE BIGINT;
""",
        expect=('expand!',),
        schema='CREATE TABLE destinations(\n    destination TEXT PRIMARY KEY,\n    retry_last_ts BIGINT,\n    retry_interval INTEGER\n);',
        note="destinations as synapse's full_schemas/16/transactions.sql created it",
    ),
    # matrix-org/synapse:synapse/storage/schema/main/delta/58/28drop_last_used_column.sql.postgres
    Snippet(
        'matrix-org/synapse:synapse/storage/schema/main/delta/58/28drop_last_used_column.sql.postgres',
        """\
/* Copyright 2020 The Matrix.org Foundation C.I.C
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *    http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

ALTER TABLE access_tokens DROP COLUMN last_used;
""",
        expect=('contract',),
    ),
    # matrix-org/synapse:synapse/storage/schema/main/delta/55/users_alter_deactivated.sql
    Snippet(
        'matrix-org/synapse:synapse/storage/schema/main/delta/55/users_alter_deactivated.sql',
        """\
/* Copyright 2019 The Matrix.org Foundation C.I.C.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *    http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

ALTER TABLE users ADD deactivated SMALLINT DEFAULT 0 NOT NULL;

INSERT INTO background_updates (update_name, progress_json) VALUES
  ('users_set_deactivated_flag', '{}');
""",
        expect=('expand', 'expand'),
    ),
    # matrix-org/synapse:synapse/storage/schema/main/delta/57/rooms_version_column_3.sql.postgres
    Snippet(
        'matrix-org/synapse:synapse/storage/schema/main/delta/57/rooms_version_column_3.sql.postgres',
        """\
/* Copyright 2020 The Matrix.org Foundation C.I.C.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *    http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

-- When we first added the room_version column to the rooms table, it was populated from
-- the current_state_events table. However, there was an issue causing a background
-- update to clean up the current_state_events table for rooms where the server is no
-- longer participating, before that column could be populated. Therefore, some rooms had
-- a NULL room_version.

-- The rooms_version_column_2.sql.* delta files were introduced to make the populating
-- synchronous instead of running it in a background update, which fixed this issue.
-- However, all of the instances of Synapse installed or updated in the meantime got
-- their rooms table corrupted with NULL room_versions.

-- This query fishes out the room versions from the create event using the state_events
-- table instead of the current_state_events one, as the former still have all of the
-- create events.

UPDATE rooms SET room_version=(
    SELECT COALESCE(json::json->'content'->>'room_version','1')
    FROM state_events se INNER JOIN event_json ej USING (event_id)
    WHERE se.room_id=rooms.room_id AND se.type='m.room.create' AND se.state_key=''
    LIMIT 1
) WHERE rooms.room_version IS NULL;

-- see also rooms_version_column_3.sql.sqlite which has a copy of the above query, using
-- sqlite syntax for the json extraction.
""",
        expect=('expand!',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20200402142539000000_rename_profile_flows.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20200402142539000000_rename_profile_flows.postgres.up.sql',
        """\
ALTER TABLE "selfservice_profile_management_request_methods" RENAME COLUMN "selfservice_profile_management_request_id" TO "selfservice_settings_request_id";
""",
        expect=('breaking',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20200402142539000001_rename_profile_flows.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20200402142539000001_rename_profile_flows.postgres.up.sql',
        """\
ALTER TABLE "selfservice_profile_management_request_methods" RENAME TO "selfservice_settings_request_methods";
""",
        expect=('breaking',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20200705105359000000_rename_identities_schema.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20200705105359000000_rename_identities_schema.postgres.up.sql',
        """\
ALTER TABLE "identities" RENAME COLUMN "traits_schema_id" TO "schema_id";
""",
        expect=('breaking',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20200812124254000000_add_session_token.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20200812124254000000_add_session_token.postgres.up.sql',
        """\
DELETE FROM sessions;
""",
        expect=('contract!',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20200830130643000000_add_verification_methods.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20200830130643000000_add_verification_methods.postgres.up.sql',
        """\
UPDATE selfservice_verification_flows SET state='passed_challenge' WHERE success IS TRUE;
""",
        expect=('expand!',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20210311102338000003_form_refactoring.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20210311102338000003_form_refactoring.postgres.up.sql',
        """\
UPDATE selfservice_login_flows SET ui='{}';
""",
        expect=('expand!',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20210817181232000000_unique_credentials.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20210817181232000000_unique_credentials.postgres.up.sql',
        """\
DROP INDEX "identity_credential_identifiers_identifier_nid_uq_idx";
""",
        expect=('contract',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20210829131458000000_session_aal_legacy.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20210829131458000000_session_aal_legacy.postgres.up.sql',
        """\
UPDATE sessions SET authentication_methods='[{"method":"v0.6_legacy_session"}]' WHERE authentication_methods='[]' AND aal='aal1';
""",
        expect=('expand!',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20210913095309000001_identity_recovery_tokens.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20210913095309000001_identity_recovery_tokens.postgres.up.sql',
        """\
ALTER TABLE "identity_recovery_tokens" ADD COLUMN "identity_id" UUID;
""",
        expect=('expand',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20220118104539000000_identity_fk_indexes.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20220118104539000000_identity_fk_indexes.postgres.up.sql',
        """\
CREATE INDEX "identity_credentials_nid_identity_id_idx" ON "identity_credentials" (identity_id, nid);
""",
        expect=('expand!',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20220301102701000000_identity_credentials_version.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20220301102701000000_identity_credentials_version.postgres.up.sql',
        """\
ALTER TABLE identity_credentials ADD version INT NOT NULL DEFAULT '0';
""",
        expect=('expand',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20220607000001000000_hydra_login_challenge.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20220607000001000000_hydra_login_challenge.postgres.up.sql',
        """\
ALTER TABLE "selfservice_login_flows" ADD COLUMN "oauth2_login_challenge" UUID NULL;
ALTER TABLE "selfservice_registration_flows" ADD COLUMN "oauth2_login_challenge" UUID NULL;
""",
        expect=('expand', 'expand'),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20220610155809000000_identity_address_casing.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20220610155809000000_identity_address_casing.postgres.up.sql',
        """\
UPDATE identity_recovery_addresses SET value = LOWER(value) WHERE TRUE;
UPDATE identity_verifiable_addresses SET value = LOWER(value) WHERE TRUE;
""",
        expect=('expand!', 'expand!'),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20230920171028000000_identity_search_index.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20230920171028000000_identity_search_index.postgres.up.sql',
        """\
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE INDEX identity_credential_identifiers_nid_identifier_gin ON identity_credential_identifiers USING GIN (nid, identifier gin_trgm_ops);
""",
        expect=('expand', 'expand', 'expand!'),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20240318143139000000_drop_identity_search_index.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20240318143139000000_drop_identity_search_index.postgres.up.sql',
        """\
DROP INDEX identity_credential_identifiers_nid_identifier_gin;
""",
        expect=('contract',),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20251105000000000003_identity_id_not_null_fks.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20251105000000000003_identity_id_not_null_fks.postgres.up.sql',
        """\
ALTER TABLE identity_credential_identifiers
    ALTER identity_id SET NOT NULL,
    ADD CONSTRAINT "identity_credential_identifiers_identities_id_fk" FOREIGN KEY (identity_id) REFERENCES identities (id) ON UPDATE RESTRICT ON DELETE CASCADE;


ALTER TABLE session_devices
    ALTER identity_id SET NOT NULL,
    ADD CONSTRAINT "session_devices_identities_id_fk" FOREIGN KEY (identity_id) REFERENCES identities (id) ON UPDATE RESTRICT ON DELETE CASCADE;
""",
        expect=('contract!', 'contract!'),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20251105000000000004_identity_id_not_null_fks.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20251105000000000004_identity_id_not_null_fks.postgres.up.sql',
        """\
CREATE INDEX IF NOT EXISTS identity_credential_identifiers_identities_id_fk_idx ON identity_credential_identifiers (identity_id);
CREATE INDEX IF NOT EXISTS session_devices_identities_id_fk_idx ON session_devices (identity_id);
""",
        expect=('expand!', 'expand!'),
    ),
    # ory/kratos:persistence/sql/migrations/sql/20260327101213000000_add_break_glass_to_recovery_addresses.postgres.up.sql
    Snippet(
        'ory/kratos:persistence/sql/migrations/sql/20260327101213000000_add_break_glass_to_recovery_addresses.postgres.up.sql',
        """\
ALTER TABLE identity_recovery_addresses ADD COLUMN IF NOT EXISTS break_glass_for_organization UUID;
""",
        expect=('expand',),
    ),
    # supabase/auth:migrations/20250904133000_add_oauth_client_id_to_session.up.sql
    Snippet(
        'supabase/auth:migrations/20250904133000_add_oauth_client_id_to_session.up.sql',
        """\
alter table if exists auth.sessions
  add column if not exists oauth_client_id uuid;

alter table auth.sessions
  add constraint sessions_oauth_client_id_fkey foreign key (oauth_client_id)
  references auth.oauth_clients(id) on delete cascade not valid;

alter table auth.sessions
  validate constraint sessions_oauth_client_id_fkey;

create index if not exists sessions_oauth_client_id_idx on auth.sessions (oauth_client_id);
""",
        expect=('expand', 'contract', 'expand!', 'expand!'),
        note='the schema-name template {{ index .Options "Namespace" }} rendered as auth, as the project\'s migrator does',
    ),
    # supabase/auth:migrations/20240729123726_add_mfa_phone_config.up.sql
    Snippet(
        'supabase/auth:migrations/20240729123726_add_mfa_phone_config.up.sql',
        """\
do $$ begin
    alter type auth.factor_type add value 'phone';
exception
    when duplicate_object then null;
end $$;


alter table auth.mfa_factors add column if not exists phone text unique default null;
alter table auth.mfa_challenges add column if not exists otp_code text null;


create unique index if not exists unique_verified_phone_factor on auth.mfa_factors (user_id, phone);
""",
        expect=('expand', 'expand!', 'expand', 'expand!'),
        note='the schema-name template {{ index .Options "Namespace" }} rendered as auth, as the project\'s migrator does',
    ),
    # supabase/auth:migrations/20231117164230_add_id_pkey_identities.up.sql
    Snippet(
        'supabase/auth:migrations/20231117164230_add_id_pkey_identities.up.sql',
        """\
do $$
begin
    if not exists(select * 
        from information_schema.columns
        where table_schema = 'auth' and table_name='identities' and column_name='provider_id')
    then
        alter table if exists auth.identities 
        rename column id to provider_id;
    end if;
end$$;

alter table if exists auth.identities 
    drop constraint if exists identities_pkey,
    add column if not exists id uuid default gen_random_uuid() primary key;

do $$
begin
  if not exists
     (select constraint_name
      from information_schema.table_constraints
      where table_schema = 'auth'
      and table_name = 'identities'
      and constraint_name = 'identities_provider_id_provider_unique')
  then
    alter table if exists auth.identities 
    add constraint identities_provider_id_provider_unique 
    unique(provider_id, provider);
  end if;
end $$;
""",
        expect=('breaking', 'breaking!', 'contract!'),
        note='the schema-name template {{ index .Options "Namespace" }} rendered as auth, as the project\'s migrator does',
    ),
    # supabase/auth:migrations/20210730183235_add_email_change_confirmed.up.sql
    Snippet(
        'supabase/auth:migrations/20210730183235_add_email_change_confirmed.up.sql',
        """\
-- adds email_change_confirmed

ALTER TABLE auth.users
ADD COLUMN IF NOT EXISTS email_change_token_current varchar(255) null DEFAULT '', 
ADD COLUMN IF NOT EXISTS email_change_confirm_status smallint DEFAULT 0 CHECK (email_change_confirm_status >= 0 AND email_change_confirm_status <= 2);

DO $$
BEGIN
  IF NOT EXISTS(SELECT *
    FROM information_schema.columns
    WHERE table_schema = 'auth' and table_name='users' and column_name='email_change_token_new')
  THEN
      ALTER TABLE "auth"."users" RENAME COLUMN "email_change_token" TO "email_change_token_new";
  END IF;
END $$;
""",
        expect=('expand!', 'breaking'),
        note='the schema-name template {{ index .Options "Namespace" }} rendered as auth, as the project\'s migrator does',
    ),
    # supabase/auth:migrations/20210927181326_add_refresh_token_parent.up.sql
    Snippet(
        'supabase/auth:migrations/20210927181326_add_refresh_token_parent.up.sql',
        """\
-- adds parent column

ALTER TABLE auth.refresh_tokens
ADD COLUMN IF NOT EXISTS parent varchar(255) NULL;

DO $$
BEGIN
  IF NOT EXISTS(SELECT *
    FROM information_schema.constraint_column_usage
    WHERE table_schema = 'auth' and table_name='refresh_tokens' and constraint_name='refresh_tokens_token_unique')
  THEN
      ALTER TABLE "auth"."refresh_tokens" ADD CONSTRAINT refresh_tokens_token_unique UNIQUE ("token");
  END IF;

  IF NOT EXISTS(SELECT *
    FROM information_schema.constraint_column_usage
    WHERE table_schema = 'auth' and table_name='refresh_tokens' and constraint_name='refresh_tokens_parent_fkey')
  THEN
      ALTER TABLE "auth"."refresh_tokens" ADD CONSTRAINT refresh_tokens_parent_fkey FOREIGN KEY (parent) REFERENCES auth.refresh_tokens("token");
  END IF;

  CREATE INDEX IF NOT EXISTS refresh_tokens_parent_idx ON "auth"."refresh_tokens" USING btree (parent);
END $$;
""",
        expect=('expand', 'contract!'),
        note='the schema-name template {{ index .Options "Namespace" }} rendered as auth, as the project\'s migrator does',
    ),
    # supabase/auth:migrations/20251111201300_add_scopes_to_sessions.up.sql
    Snippet(
        'supabase/auth:migrations/20251111201300_add_scopes_to_sessions.up.sql',
        """\
-- Add scopes column to sessions table for OAuth scope tracking
-- This is nullable to avoid issues with existing sessions
/* auth_migration: 202511112013000 */
alter table if exists auth.sessions
  add column if not exists scopes text null;

-- Add constraint to ensure scopes are reasonable length (4KB limit)
/* auth_migration: 202511112013000 */
alter table auth.sessions
  add constraint sessions_scopes_length check (char_length(scopes) <= 4096);
""",
        expect=('expand', 'expand!'),
        note='the schema-name template {{ index .Options "Namespace" }} rendered as auth, as the project\'s migrator does',
    ),
    # supabase/auth:migrations/20221208132122_backfill_email_last_sign_in_at.up.sql
    Snippet(
        'supabase/auth:migrations/20221208132122_backfill_email_last_sign_in_at.up.sql',
        """\
-- previous backfill migration left last_sign_in_at to be null, which broke some projects

do $$
begin
update auth.identities
  set last_sign_in_at = '2022-11-25'
  where
    last_sign_in_at is null and
    created_at = '2022-11-25' and
    updated_at = '2022-11-25' and
    provider = 'email' and
    id::text = user_id::text;
end $$;
""",
        expect=('expand!',),
        note='the schema-name template {{ index .Options "Namespace" }} rendered as auth, as the project\'s migrator does',
    ),
    # supabase/auth:migrations/20240806073726_drop_uniqueness_constraint_on_phone.up.sql
    Snippet(
        'supabase/auth:migrations/20240806073726_drop_uniqueness_constraint_on_phone.up.sql',
        """\
alter table auth.mfa_factors drop constraint if exists mfa_factors_phone_key;
do $$
begin
    -- if both indexes exist, it means that the schema_migrations table was truncated and the migrations had to be rerun
    if (
        select count(*) = 2
        from pg_indexes 
        where indexname in ('unique_verified_phone_factor', 'unique_phone_factor_per_user')
        and schemaname = 'auth'
    ) then
        execute 'drop index auth.unique_verified_phone_factor';
    end if;

    if exists (
         select 1
         from pg_indexes
         where indexname = 'unique_verified_phone_factor'
         and schemaname = 'auth'
    ) then
        execute 'alter index auth.unique_verified_phone_factor rename to unique_phone_factor_per_user';
    end if;
end $$;
""",
        expect=('contract', 'contract'),
        note='the schema-name template {{ index .Options "Namespace" }} rendered as auth, as the project\'s migrator does',
    ),
    # supabase/auth:migrations/20221215195500_modify_users_email_unique_index.up.sql
    Snippet(
        'supabase/auth:migrations/20221215195500_modify_users_email_unique_index.up.sql',
        """\
-- this change is relatively temporary
-- it is meant to keep database consistency guarantees until there is proper
-- introduction of account linking / merging / delinking APIs, at which point
-- rows in the users table will allow duplicates but with programmatic control

alter table only auth.users
  add column if not exists is_sso_user boolean not null default false;

comment on column auth.users.is_sso_user is 'Auth: Set this column to true when the account comes from SSO. These accounts can have duplicate emails.';

do $$
begin
  alter table only auth.users
    drop constraint if exists users_email_key;
exception
-- dependent object: https://www.postgresql.org/docs/current/errcodes-appendix.html
when SQLSTATE '2BP01' then
  raise notice 'Unable to drop users_email_key constraint due to dependent objects, please resolve this manually or SSO may not work';
end $$;

create unique index if not exists users_email_partial_key on auth.users (email) where (is_sso_user = false);

comment on index auth.users_email_partial_key is 'Auth: A partial unique index that applies only when is_sso_user is false';
""",
        expect=('expand', 'expand', 'contract', 'contract!', 'expand'),
        note='the schema-name template {{ index .Options "Namespace" }} rendered as auth, as the project\'s migrator does',
    ),
    # supabase/auth:migrations/20210710035447_alter_users.up.sql
    Snippet(
        'supabase/auth:migrations/20210710035447_alter_users.up.sql',
        """\
-- alter user schema

ALTER TABLE auth.users 
ADD COLUMN IF NOT EXISTS phone VARCHAR(15) NULL UNIQUE DEFAULT NULL,
ADD COLUMN IF NOT EXISTS phone_confirmed_at timestamptz NULL DEFAULT NULL,
ADD COLUMN IF NOT EXISTS phone_change VARCHAR(15) NULL DEFAULT '',
ADD COLUMN IF NOT EXISTS phone_change_token VARCHAR(255) NULL DEFAULT '',
ADD COLUMN IF NOT EXISTS phone_change_sent_at timestamptz NULL DEFAULT NULL;

DO $$
BEGIN
  IF NOT EXISTS(SELECT *
    FROM information_schema.columns
    WHERE table_schema = 'auth' and table_name='users' and column_name='email_confirmed_at')
  THEN
      ALTER TABLE "auth"."users" RENAME COLUMN "confirmed_at" TO "email_confirmed_at";
  END IF;
END $$;
""",
        expect=('expand!', 'breaking'),
        note='the schema-name template {{ index .Options "Namespace" }} rendered as auth, as the project\'s migrator does',
    ),
]

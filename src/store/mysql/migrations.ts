// Versioned, idempotent schema migrations, run by `orgengine migrate`. A
// migration is never edited once released: add a new one instead. Statements
// stay portable to MySQL-compatible stores (no procedures, no triggers).

/** One schema step. */
export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/** Every migration, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'engine tables',
    statements: [
      `CREATE TABLE IF NOT EXISTS policy (
        policy_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        name VARCHAR(64) NOT NULL,
        conf TEXT NOT NULL,
        description VARCHAR(512) NOT NULL DEFAULT '',
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (policy_id),
        UNIQUE KEY uk_policy_name (name)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS lesson (
        lesson_id BIGINT UNSIGNED NOT NULL,
        course_id BIGINT UNSIGNED NOT NULL,
        title VARCHAR(255) NOT NULL,
        teacher_uid BIGINT UNSIGNED NOT NULL,
        start_time DATETIME(3) NOT NULL,
        end_time DATETIME(3) NOT NULL,
        status ENUM('scheduled','preloading','ready','failed') NOT NULL DEFAULT 'scheduled',
        preload_version INT UNSIGNED NOT NULL DEFAULT 0,
        student_count INT UNSIGNED NOT NULL DEFAULT 0,
        room_count INT UNSIGNED NOT NULL DEFAULT 0,
        node_count INT UNSIGNED NOT NULL DEFAULT 0,
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (lesson_id),
        KEY ix_lesson_start (start_time)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS lesson_policy (
        lesson_id BIGINT UNSIGNED NOT NULL,
        policy_id BIGINT UNSIGNED NOT NULL,
        bound_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (lesson_id),
        KEY ix_lesson_policy_policy (policy_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS live_room (
        lesson_id BIGINT UNSIGNED NOT NULL,
        room_id VARCHAR(64) NOT NULL,
        virtual_room_id VARCHAR(96) NOT NULL,
        root_node_id VARCHAR(64) NOT NULL,
        biz_id BIGINT UNSIGNED NOT NULL,
        room_type VARCHAR(16) NOT NULL,
        teacher_uid BIGINT UNSIGNED NOT NULL,
        start_time DATETIME(3) NOT NULL,
        end_time DATETIME(3) NOT NULL,
        status ENUM('scheduled','live','closed') NOT NULL DEFAULT 'scheduled',
        member_count INT UNSIGNED NOT NULL,
        partitions INT UNSIGNED NOT NULL,
        preload_version INT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, room_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS org_node (
        lesson_id BIGINT UNSIGNED NOT NULL,
        node_id VARCHAR(64) NOT NULL,
        parent_id VARCHAR(64) NULL,
        root_id VARCHAR(64) NOT NULL,
        virtual_node_id VARCHAR(96) NOT NULL,
        source_id VARCHAR(64) NULL,
        kind VARCHAR(16) NOT NULL,
        path VARCHAR(512) NOT NULL,
        depth TINYINT UNSIGNED NOT NULL,
        capacity INT UNSIGNED NULL,
        size INT UNSIGNED NOT NULL,
        preload_version INT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, node_id),
        KEY ix_org_node_parent (lesson_id, parent_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS room_user (
        lesson_id BIGINT UNSIGNED NOT NULL,
        uid BIGINT UNSIGNED NOT NULL,
        room_id VARCHAR(64) NOT NULL,
        node_id VARCHAR(64) NOT NULL,
        partition_no INT UNSIGNED NOT NULL,
        join_order INT UNSIGNED NOT NULL,
        preload_version INT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, uid, room_id),
        KEY ix_room_user_room (lesson_id, room_id, partition_no)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS preload_run (
        run_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        lesson_id BIGINT UNSIGNED NOT NULL,
        policy_id BIGINT UNSIGNED NULL,
        mode VARCHAR(16) NULL,
        version INT UNSIGNED NULL,
        status ENUM('running','succeeded','failed') NOT NULL,
        error_code VARCHAR(48) NULL,
        error_message TEXT NULL,
        rooms INT UNSIGNED NULL,
        nodes INT UNSIGNED NULL,
        positions INT UNSIGNED NULL,
        room_users INT UNSIGNED NULL,
        member_partitions INT UNSIGNED NULL,
        redis_commands INT UNSIGNED NULL,
        mysql_rows INT UNSIGNED NULL,
        duration_ms INT UNSIGNED NULL,
        host VARCHAR(128) NOT NULL,
        started_at DATETIME(3) NOT NULL,
        finished_at DATETIME(3) NULL,
        PRIMARY KEY (run_id),
        KEY ix_preload_run_lesson (lesson_id, run_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    version: 2,
    name: 'source schema (stand-in for the tutoring and sales systems)',
    statements: [
      `CREATE TABLE IF NOT EXISTS src_staff (
        staff_uid BIGINT UNSIGNED NOT NULL,
        name VARCHAR(128) NOT NULL,
        role ENUM('tutor','lpc') NOT NULL,
        PRIMARY KEY (staff_uid)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS src_lesson_staff (
        lesson_id BIGINT UNSIGNED NOT NULL,
        staff_uid BIGINT UNSIGNED NOT NULL,
        on_camera TINYINT(1) NOT NULL DEFAULT 0,
        PRIMARY KEY (lesson_id, staff_uid)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS src_enrolment (
        lesson_id BIGINT UNSIGNED NOT NULL,
        student_uid BIGINT UNSIGNED NOT NULL,
        enrolled_at DATETIME(3) NOT NULL,
        PRIMARY KEY (lesson_id, student_uid)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS src_tutor_assignment (
        lesson_id BIGINT UNSIGNED NOT NULL,
        student_uid BIGINT UNSIGNED NOT NULL,
        tutor_uid BIGINT UNSIGNED NOT NULL,
        class_id BIGINT UNSIGNED NULL,
        PRIMARY KEY (lesson_id, student_uid)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS src_class (
        lesson_id BIGINT UNSIGNED NOT NULL,
        class_id BIGINT UNSIGNED NOT NULL,
        tutor_uid BIGINT UNSIGNED NOT NULL,
        name VARCHAR(128) NOT NULL,
        capacity INT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, class_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS src_wechat_group (
        lesson_id BIGINT UNSIGNED NOT NULL,
        group_id BIGINT UNSIGNED NOT NULL,
        lpc_uid BIGINT UNSIGNED NOT NULL,
        name VARCHAR(128) NOT NULL,
        PRIMARY KEY (lesson_id, group_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS src_lpc_assignment (
        lesson_id BIGINT UNSIGNED NOT NULL,
        student_uid BIGINT UNSIGNED NOT NULL,
        lpc_uid BIGINT UNSIGNED NOT NULL,
        wechat_group_id BIGINT UNSIGNED NULL,
        PRIMARY KEY (lesson_id, student_uid)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    version: 3,
    name: 'in-class state written behind from Redis',
    // One row per state key; `version` is the write-behind version of the newest
    // change applied, so a replayed or reordered record never overwrites a newer one.
    statements: [
      `CREATE TABLE IF NOT EXISTS state_group (
        lesson_id BIGINT UNSIGNED NOT NULL,
        uid BIGINT UNSIGNED NOT NULL,
        group_id VARCHAR(64) NULL,
        picked_at DATETIME(3) NOT NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, uid),
        KEY ix_state_group_group (lesson_id, group_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS state_dyn_node (
        lesson_id BIGINT UNSIGNED NOT NULL,
        node_id VARCHAR(64) NOT NULL,
        parent_id VARCHAR(64) NOT NULL,
        capacity INT UNSIGNED NOT NULL,
        path VARCHAR(512) NOT NULL,
        depth TINYINT UNSIGNED NOT NULL,
        created_at DATETIME(3) NOT NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, node_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS state_mute (
        lesson_id BIGINT UNSIGNED NOT NULL,
        room_id VARCHAR(64) NOT NULL,
        uid BIGINT UNSIGNED NOT NULL,
        muted TINYINT(1) NOT NULL,
        updated_at DATETIME(3) NOT NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, room_id, uid)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS state_mute_node (
        lesson_id BIGINT UNSIGNED NOT NULL,
        room_id VARCHAR(64) NOT NULL,
        node_id VARCHAR(64) NOT NULL,
        muted TINYINT(1) NOT NULL,
        updated_at DATETIME(3) NOT NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, room_id, node_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS state_signin (
        lesson_id BIGINT UNSIGNED NOT NULL,
        uid BIGINT UNSIGNED NOT NULL,
        signed_in_at DATETIME(3) NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, uid)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS state_online (
        lesson_id BIGINT UNSIGNED NOT NULL,
        room_id VARCHAR(64) NOT NULL,
        uid BIGINT UNSIGNED NOT NULL,
        partition_no INT UNSIGNED NOT NULL,
        last_seen_at DATETIME(3) NOT NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, room_id, uid)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    // The runner applies every version not yet recorded, so a database that got 4 before 3 still gets 3.
    version: 4,
    name: 'preload checks (report of each check against the recompiled source)',
    statements: [
      `CREATE TABLE IF NOT EXISTS preload_check (
        check_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        lesson_id BIGINT UNSIGNED NOT NULL,
        run_id BIGINT UNSIGNED NULL,
        version INT UNSIGNED NULL,
        status ENUM('running','passed','failed','superseded') NOT NULL,
        mismatches INT UNSIGNED NOT NULL DEFAULT 0,
        report MEDIUMTEXT NULL,
        duration_ms INT UNSIGNED NULL,
        host VARCHAR(128) NOT NULL,
        started_at DATETIME(3) NOT NULL,
        finished_at DATETIME(3) NULL,
        PRIMARY KEY (check_id),
        KEY ix_preload_check_lesson (lesson_id, check_id),
        KEY ix_preload_check_run (run_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    version: 5,
    name: 'courseware signal log for playback, written behind from Redis',
    // Redis keeps only the last ORGENGINE_SIGNAL_RETAIN signals of a room; this keeps them all.
    // data is TEXT: ORGENGINE_SIGNAL_MAX_PAYLOAD_BYTES is capped at 65535 bytes to fit it.
    statements: [
      `CREATE TABLE IF NOT EXISTS signal_log (
        lesson_id BIGINT UNSIGNED NOT NULL,
        room_id VARCHAR(64) NOT NULL,
        seq BIGINT UNSIGNED NOT NULL,
        published_at DATETIME(3) NOT NULL,
        by_uid BIGINT UNSIGNED NOT NULL,
        data TEXT NOT NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, room_id, seq)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    version: 6,
    name: 'score ledger and PK rounds, written behind from Redis',
    // The ledger is what reconcile recomputes every live total from: node_path is the
    // credited node's ancestor path at the time of the event, so a roll-up needs no tree.
    statements: [
      `CREATE TABLE IF NOT EXISTS score_ledger (
        lesson_id BIGINT UNSIGNED NOT NULL,
        idem_key VARCHAR(128) NOT NULL,
        room_id VARCHAR(64) NOT NULL,
        session_id VARCHAR(64) NULL,
        uid BIGINT UNSIGNED NULL,
        seat_id VARCHAR(64) NULL,
        seat_side VARCHAR(8) NULL,
        node_id VARCHAR(64) NOT NULL,
        node_path VARCHAR(512) NOT NULL,
        kind VARCHAR(16) NOT NULL,
        points INT NOT NULL,
        pk_round BIGINT UNSIGNED NULL,
        pk_side CHAR(1) NULL,
        at DATETIME(3) NOT NULL,
        by_uid BIGINT UNSIGNED NOT NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, idem_key),
        KEY ix_score_ledger_version (lesson_id, version)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS score_pk_round (
        lesson_id BIGINT UNSIGNED NOT NULL,
        round_id BIGINT UNSIGNED NOT NULL,
        scope VARCHAR(80) NOT NULL,
        room_id VARCHAR(64) NOT NULL,
        kind VARCHAR(8) NOT NULL,
        side_a VARCHAR(64) NOT NULL,
        side_b VARCHAR(64) NOT NULL,
        started_at DATETIME(3) NOT NULL,
        ends_at DATETIME(3) NOT NULL,
        status VARCHAR(8) NOT NULL,
        points_a BIGINT NOT NULL,
        points_b BIGINT NOT NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, round_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    version: 7,
    name: 'interaction center: sessions, links, the link-event ledger and per-room admins, written behind from Redis',
    // Sessions and links hold their newest state (version-guarded upserts);
    // the ledger holds every transition once ((session, seq) never repeats).
    statements: [
      `CREATE TABLE IF NOT EXISTS ia_session (
        lesson_id BIGINT UNSIGNED NOT NULL,
        session_id VARCHAR(24) NOT NULL,
        room_id VARCHAR(64) NOT NULL,
        kind VARCHAR(8) NOT NULL,
        capacity INT UNSIGNED NOT NULL,
        channel_id VARCHAR(128) NOT NULL,
        creator_uid BIGINT UNSIGNED NOT NULL,
        status VARCHAR(8) NOT NULL,
        end_reason VARCHAR(16) NULL,
        created_at DATETIME(3) NOT NULL,
        ended_at DATETIME(3) NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, session_id),
        KEY ix_ia_session_room (lesson_id, room_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS ia_link (
        lesson_id BIGINT UNSIGNED NOT NULL,
        session_id VARCHAR(24) NOT NULL,
        uid BIGINT UNSIGNED NOT NULL,
        generation INT UNSIGNED NOT NULL,
        state VARCHAR(20) NOT NULL,
        origin VARCHAR(12) NOT NULL,
        by_uid BIGINT UNSIGNED NOT NULL,
        updated_at DATETIME(3) NOT NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, session_id, uid),
        KEY ix_ia_link_uid (lesson_id, uid)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS ia_link_event (
        lesson_id BIGINT UNSIGNED NOT NULL,
        session_id VARCHAR(24) NOT NULL,
        seq INT UNSIGNED NOT NULL,
        uid BIGINT UNSIGNED NOT NULL,
        generation INT UNSIGNED NOT NULL,
        from_state VARCHAR(20) NOT NULL,
        to_state VARCHAR(20) NOT NULL,
        by_uid BIGINT UNSIGNED NOT NULL,
        cause VARCHAR(16) NOT NULL,
        at DATETIME(3) NOT NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, session_id, seq)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS ia_room_admin (
        lesson_id BIGINT UNSIGNED NOT NULL,
        room_id VARCHAR(64) NOT NULL,
        uid BIGINT UNSIGNED NOT NULL,
        granted TINYINT(1) NOT NULL,
        updated_at DATETIME(3) NOT NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, room_id, uid)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    version: 8,
    name: 'operations console: audit trail, alarms and their settings',
    statements: [
      // Who did what, when, with which parameters, and how it ended: every console action and every refused call.
      `CREATE TABLE IF NOT EXISTS console_audit (
        audit_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        at DATETIME(3) NOT NULL,
        uid BIGINT UNSIGNED NULL,
        role VARCHAR(16) NULL,
        action VARCHAR(64) NOT NULL,
        params TEXT NOT NULL,
        result VARCHAR(16) NOT NULL,
        detail TEXT NULL,
        PRIMARY KEY (audit_id),
        KEY ix_console_audit_at (at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      // One row per alarm episode. open_key is the alarm key while it fires and NULL once resolved, so the
      // unique key lets exactly one process raise (and one resolve) an episode, however many consoles run.
      `CREATE TABLE IF NOT EXISTS console_alarm (
        alarm_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        alarm_key VARCHAR(160) NOT NULL,
        open_key VARCHAR(160) NULL,
        kind VARCHAR(32) NOT NULL,
        lesson_id BIGINT UNSIGNED NULL,
        message VARCHAR(1024) NOT NULL,
        raised_at DATETIME(3) NOT NULL,
        resolved_at DATETIME(3) NULL,
        PRIMARY KEY (alarm_id),
        UNIQUE KEY uk_console_alarm_open (open_key),
        KEY ix_console_alarm_raised (raised_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS console_setting (
        name VARCHAR(64) NOT NULL,
        value TEXT NOT NULL,
        updated_at DATETIME(3) NOT NULL,
        updated_by BIGINT UNSIGNED NULL,
        PRIMARY KEY (name)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
  {
    version: 9,
    name: 'mic seats: layout templates, the seat ledger, and the template a session follows',
    statements: [
      `ALTER TABLE ia_session ADD COLUMN IF NOT EXISTS template_id VARCHAR(32) NOT NULL DEFAULT '' AFTER ended_at`,
      `CREATE TABLE IF NOT EXISTS ia_seat_event (
        lesson_id BIGINT UNSIGNED NOT NULL,
        session_id VARCHAR(24) NOT NULL,
        seq INT UNSIGNED NOT NULL,
        seat_no SMALLINT UNSIGNED NOT NULL,
        uid BIGINT UNSIGNED NOT NULL,
        locked TINYINT(1) NOT NULL,
        mic TINYINT(1) NOT NULL,
        cam TINYINT(1) NOT NULL,
        op VARCHAR(8) NOT NULL,
        by_uid BIGINT UNSIGNED NOT NULL,
        at DATETIME(3) NOT NULL,
        version BIGINT UNSIGNED NOT NULL,
        PRIMARY KEY (lesson_id, session_id, seq)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      `CREATE TABLE IF NOT EXISTS seat_template (
        template_id VARCHAR(32) NOT NULL,
        doc JSON NOT NULL,
        updated_at DATETIME(3) NOT NULL,
        PRIMARY KEY (template_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  },
];

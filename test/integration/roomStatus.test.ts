// live_room.status follows each room's own times, for any clock, idempotently.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advanceRoomStatus, roomStatuses } from '../../src/store/mysql/roomStatus.js';
import { createTestDb, type TestDb } from '../support/mysql.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 21, 10);

describe('room status', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb('room_status');
    const rows = [
      ['main', T0, T0 + HOUR],
      ['before', T0 - HOUR / 2, T0],
      ['after', T0 + HOUR, T0 + 1.5 * HOUR],
    ];
    for (const [id, s, e] of rows) {
      await db.pool.query(
        `INSERT INTO live_room (lesson_id, room_id, virtual_room_id, root_node_id, biz_id, room_type, teacher_uid, start_time, end_time, member_count, partitions, preload_version)
         VALUES (1, ?, ?, 'root', 1, 'main', 1, ?, ?, 0, 1, 1)`,
        [id, `v-${id}`, new Date(s as number), new Date(e as number)],
      );
    }
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('moves scheduled -> live -> closed by the times, changing only what differs', async () => {
    expect(Object.fromEntries(await roomStatuses(db.pool, 1))).toEqual({ main: 'scheduled', before: 'scheduled', after: 'scheduled' });
    expect(await advanceRoomStatus(db.pool, T0 - HOUR / 4)).toBe(1);
    expect(Object.fromEntries(await roomStatuses(db.pool, 1))).toEqual({ main: 'scheduled', before: 'live', after: 'scheduled' });
    expect(await advanceRoomStatus(db.pool, T0 - HOUR / 4)).toBe(0);
    expect(await advanceRoomStatus(db.pool, T0 + HOUR / 2)).toBe(2);
    expect(Object.fromEntries(await roomStatuses(db.pool, 1))).toEqual({ main: 'live', before: 'closed', after: 'scheduled' });
    expect(await advanceRoomStatus(db.pool, T0 + 2 * HOUR)).toBe(2);
    expect(Object.fromEntries(await roomStatuses(db.pool, 1))).toEqual({ main: 'closed', before: 'closed', after: 'closed' });
    // Rooms that ended long before the clock are left alone.
    await db.pool.query("UPDATE live_room SET status = 'live' WHERE room_id = 'before'");
    expect(await advanceRoomStatus(db.pool, T0 + 10 * 86_400_000)).toBe(0);
  });
});

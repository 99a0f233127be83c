// The alarm rule and the alarm settings' validation: pure, no I/O.
import { describe, expect, it } from 'vitest';
import { alarmConditions, validateAlarmSettings, type AlarmSettings, type ObservedLesson } from '../../src/model/alarms.js';
import { isOrgError } from '../../src/errors.js';

const S: AlarmSettings = { expectedBaseMs: 1000, expectedMsPer1kStudents: 100, overrunFactor: 2, wbLagMs: 5000, wbStreamLength: 100, checkMismatches: 3, webhooks: [] };
const lesson = (o: Partial<ObservedLesson>): ObservedLesson => ({ lessonId: 1, state: 'checked', preloadMs: 100, expectedMs: 1000, runStatus: 'succeeded', checkStatus: 'passed', mismatches: 0, error: null, ...o });

describe('alarmConditions', () => {
  it('fires each kind on its own condition and not below its threshold', () => {
    const c = alarmConditions(
      {
        lessons: [
          lesson({ lessonId: 1, state: 'failed', runStatus: 'failed', error: 'SOURCE_MISSING_TUTOR: x' }),
          lesson({ lessonId: 2, preloadMs: 2001 }),
          lesson({ lessonId: 3, preloadMs: 2000 }),
          lesson({ lessonId: 4, state: 'running', runStatus: 'running', preloadMs: 5000 }),
          lesson({ lessonId: 5, state: 'check-failed', checkStatus: 'failed', mismatches: 3 }),
          lesson({ lessonId: 6, state: 'check-failed', checkStatus: 'failed', mismatches: 2 }),
        ],
        streams: [
          { lessonId: 7, length: 100, oldestAgeMs: 10 },
          { lessonId: 8, length: 5, oldestAgeMs: 5001 },
          { lessonId: 9, length: 99, oldestAgeMs: 5000 },
          { lessonId: 10, length: 0, oldestAgeMs: null },
        ],
        gateways: [
          { url: 'http://a', ready: false, detail: '503' },
          { url: 'http://b', ready: true, detail: 'ready' },
        ],
      },
      S,
    );
    expect(c.map((x) => x.key).sort()).toEqual(
      ['check-mismatch:5', 'gateway-not-ready:http://a', 'preload-failed:1', 'preload-overrun:2', 'preload-overrun:4', 'wb-backpressure:7', 'wb-lag:8'].sort(),
    );
    expect(c.find((x) => x.key === 'preload-overrun:4')!.message).toContain('running for 5000 ms');
    expect(c.find((x) => x.key === 'gateway-not-ready:http://a')!.lessonId).toBeNull();
  });

  it('finds nothing when everything is within bounds', () => {
    expect(alarmConditions({ lessons: [lesson({})], streams: [{ lessonId: 1, length: 1, oldestAgeMs: 1 }], gateways: [] }, S)).toEqual([]);
  });
});

describe('validateAlarmSettings', () => {
  it('keeps fields left out and takes the ones given', () => {
    expect(validateAlarmSettings({ wbLagMs: 10, webhooks: ['https://h/x'] }, S)).toEqual({ ...S, wbLagMs: 10, webhooks: ['https://h/x'] });
  });

  it('names every bad field and changes nothing', () => {
    let err: unknown;
    try {
      validateAlarmSettings({ overrunFactor: 0, wbStreamLength: 1.5, checkMismatches: 'x', nope: 1, webhooks: ['ftp://x', 'http://ok'] }, S);
    } catch (e) {
      err = e;
    }
    expect(isOrgError(err, 'BAD_REQUEST')).toBe(true);
    expect((err as { details: { fields: string[] } }).details.fields.sort()).toEqual(['checkMismatches', 'nope', 'overrunFactor', 'wbStreamLength', 'webhooks[0]'].sort());
  });
});

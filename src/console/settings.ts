// The alarm settings in force: the config's defaults, overridden by what
// operators saved on the alarm settings page (console_setting 'alarms').
import type { Config } from '../config.js';
import { validateAlarmSettings, type AlarmSettings } from '../model/alarms.js';
import { getSetting, putSetting } from '../store/mysql/console.js';
import type { Pool } from '../store/mysql/pool.js';

const NAME = 'alarms';

/** The alarm settings from the config alone. */
export function defaultAlarmSettings(config: Config): AlarmSettings {
  const c = config.console;
  return {
    expectedBaseMs: config.jobs.expectedBaseMs,
    expectedMsPer1kStudents: config.jobs.expectedMsPer1kStudents,
    overrunFactor: c.overrunFactor,
    wbLagMs: c.wbLagMs,
    wbStreamLength: c.wbStreamLength,
    checkMismatches: c.checkMismatches,
    webhooks: [],
  };
}

/** Reads and saves the alarm settings. */
export class AlarmSettingsStore {
  constructor(
    private readonly pool: Pool,
    private readonly config: Config,
    private readonly now: () => number = Date.now,
  ) {}

  /** The settings in force. A stored value that no longer validates falls back to the defaults field by field. */
  async get(): Promise<AlarmSettings> {
    const base = defaultAlarmSettings(this.config);
    const stored = await getSetting(this.pool, NAME);
    if (stored === undefined) return base;
    try {
      return validateAlarmSettings(stored, base);
    } catch {
      return base;
    }
  }

  /** Validates `input` over the settings in force and stores the result. */
  async put(input: unknown, by: number | null): Promise<AlarmSettings> {
    const next = validateAlarmSettings(input, await this.get());
    await putSetting(this.pool, NAME, next, by, this.now());
    return next;
  }
}

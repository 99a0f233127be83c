// Byte estimates of a cached room's signal log: what the cache accounts with
// SkipList.approxBytes, and the bound its constructor checks (a full room must
// fit one bucket before the first one is cached; the gateway reports a refusal
// as the variable that set the bucket size).
import { SKIPLIST_MAX_LEVEL, SKIPLIST_P } from './skiplist.js';

/** Fixed cost of one cached room besides its skiplist (entry object, map slots, links). */
export const ROOM_OVERHEAD_BYTES = 256;

/** Estimate of one signal's value object plus its payload string (two bytes a char at worst). */
export function signalValueBytes(dataChars: number): number {
  return 64 + 2 * dataChars;
}

/**
 * Upper estimate of a room's footprint holding `retain` signals of
 * `maxPayloadBytes` each, in the units approxBytes() reports: slot arrays
 * (which never grow past retain + 1 slots), per-level link arrays up to a level
 * few lists ever pass, the member dict, member strings and values.
 */
export function roomBytesBound(retain: number, maxPayloadBytes: number): number {
  const slots = retain + 1;
  const levels = Math.min(SKIPLIST_MAX_LEVEL, Math.ceil(Math.log(slots) / Math.log(1 / SKIPLIST_P)) + 3);
  const perSlot = 8 + 4 + 1 + 8 + 4 + 16 + 8 * levels;
  // Members are decimal seq strings (<= 16 digits, 2 bytes a char); 32 for the dict entry.
  const perEntry = 32 + 32 + signalValueBytes(maxPayloadBytes);
  return ROOM_OVERHEAD_BYTES + slots * perSlot + retain * perEntry;
}

// Prometheus metrics of the write-behind path, registered on the registry the
// process exports at /metrics.
import type { Registry } from 'prom-client';
import { counter, createRegistry, gauge, histogram, registerMetrics, type Registered } from '../metrics.js';

const FLUSHER_METRICS = {
  lag: histogram({
    name: 'orgengine_wb_flush_lag_seconds',
    help: 'time from a mutation (stream entry) to its commit in MySQL',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  }),
  oldest: gauge({ name: 'orgengine_wb_oldest_record_age_seconds', help: 'age of the oldest unflushed record over watched lessons (sampled)' }),
  streamLength: gauge({ name: 'orgengine_wb_stream_length', help: 'unflushed records over watched lessons (sampled)' }),
  streamLengthMax: gauge({ name: 'orgengine_wb_stream_length_max', help: 'unflushed records of the fullest lesson stream (sampled)' }),
  lessons: gauge({ name: 'orgengine_wb_lessons', help: 'lesson streams this flusher watches' }),
  batchRecords: histogram({
    name: 'orgengine_wb_batch_records',
    help: 'records per flush cycle (one MySQL transaction)',
    buckets: [1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 50000],
  }),
  insertRows: histogram({
    name: 'orgengine_wb_insert_rows',
    help: 'rows per multi-row INSERT after coalescing',
    buckets: [1, 10, 50, 100, 500, 1000, 2000, 5000, 10000],
  }),
  writeSeconds: histogram({
    name: 'orgengine_wb_mysql_write_seconds',
    help: 'time to write one batch to MySQL, through commit',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  }),
  records: counter({ name: 'orgengine_wb_records_total', help: 'records written to MySQL and acknowledged' }),
  claimed: counter({ name: 'orgengine_wb_claimed_total', help: 'pending records claimed from idle consumers (XAUTOCLAIM)' }),
  retries: counter({ name: 'orgengine_wb_retries_total', help: 'flush cycles that failed (MySQL or Redis) and will be retried', labelNames: ['stage'] }),
  rollbacks: counter({ name: 'orgengine_wb_rollbacks_detected_total', help: 'lessons found with Redis in-class state older than MySQL (Redis lost acknowledged writes)' }),
  rolledBackLessons: gauge({ name: 'orgengine_wb_rolled_back_lessons', help: 'watched lessons whose Redis in-class state is older than MySQL now (alarm until repaired)' }),
  badRecords: counter({ name: 'orgengine_wb_bad_records_total', help: 'stream entries no table can hold (logged, acknowledged)' }),
};

/** The flusher's metrics. */
export type FlusherMetrics = Registered<typeof FLUSHER_METRICS>;

/** Creates the flusher's metrics on `registry` (a private one when none is given). */
export function flusherMetrics(registry?: Registry): FlusherMetrics {
  return registerMetrics(registry ?? createRegistry(), FLUSHER_METRICS);
}

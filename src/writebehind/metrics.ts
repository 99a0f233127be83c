// Prometheus metrics of the write-behind path, registered on the registry the
// process exports at /metrics.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The flusher's metrics. */
export interface FlusherMetrics {
  lag: Histogram;
  oldest: Gauge;
  streamLength: Gauge;
  streamLengthMax: Gauge;
  lessons: Gauge;
  batchRecords: Histogram;
  insertRows: Histogram;
  writeSeconds: Histogram;
  records: Counter;
  claimed: Counter;
  retries: Counter;
  badRecords: Counter;
}

/** Creates the flusher's metrics on `registry` (a private one when none is given). */
export function flusherMetrics(registry: Registry = new Registry()): FlusherMetrics {
  const registers = [registry];
  return {
    lag: new Histogram({
      name: 'orgengine_wb_flush_lag_seconds',
      help: 'time from a mutation (stream entry) to its commit in MySQL',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    oldest: new Gauge({ name: 'orgengine_wb_oldest_record_age_seconds', help: 'age of the oldest unflushed record over watched lessons (sampled)', registers }),
    streamLength: new Gauge({ name: 'orgengine_wb_stream_length', help: 'unflushed records over watched lessons (sampled)', registers }),
    streamLengthMax: new Gauge({ name: 'orgengine_wb_stream_length_max', help: 'unflushed records of the fullest lesson stream (sampled)', registers }),
    lessons: new Gauge({ name: 'orgengine_wb_lessons', help: 'lesson streams this flusher watches', registers }),
    batchRecords: new Histogram({
      name: 'orgengine_wb_batch_records',
      help: 'records per flush cycle (one MySQL transaction)',
      buckets: [1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 50000],
      registers,
    }),
    insertRows: new Histogram({
      name: 'orgengine_wb_insert_rows',
      help: 'rows per multi-row INSERT after coalescing',
      buckets: [1, 10, 50, 100, 500, 1000, 2000, 5000, 10000],
      registers,
    }),
    writeSeconds: new Histogram({
      name: 'orgengine_wb_mysql_write_seconds',
      help: 'time to write one batch to MySQL, through commit',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    records: new Counter({ name: 'orgengine_wb_records_total', help: 'records written to MySQL and acknowledged', registers }),
    claimed: new Counter({ name: 'orgengine_wb_claimed_total', help: 'pending records claimed from idle consumers (XAUTOCLAIM)', registers }),
    retries: new Counter({ name: 'orgengine_wb_retries_total', help: 'flush cycles that failed (MySQL or Redis) and will be retried', labelNames: ['stage'], registers }),
    badRecords: new Counter({ name: 'orgengine_wb_bad_records_total', help: 'stream entries no table can hold (logged, acknowledged)', registers }),
  };
}

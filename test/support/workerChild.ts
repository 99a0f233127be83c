// A worker process for the failover test: `orgengine worker` wiring with a hook
// that, given `hang`, stops the first preload after its Redis write and tells
// the parent, which then kills this process with SIGKILL.
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/main.js';
import { createQueueConnection, Jobs } from '../../src/preload/jobs.js';
import { startWorkers } from '../../src/preload/worker.js';

const hang = process.argv[2] === 'hang';
const config = loadConfig(process.env);
const app = createApp(config);
const jobs = new Jobs(createQueueConnection(config.jobs.redis), config.jobs);
startWorkers(
  { pool: app.pool, redis: app.redis, jobs, config, log: app.log },
  {
    roles: ['preload', 'check'],
    onStage: hang
      ? async (d, stage) => {
          if (stage !== 'redis-written') return;
          process.send?.({ hung: d.lessonId });
          await new Promise(() => undefined);
        }
      : undefined,
  },
);
process.send?.({ ready: true });

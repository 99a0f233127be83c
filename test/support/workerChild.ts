// A worker process for the failover tests: `orgengine worker` wiring with a hook
// that, given `hang:<stage>`, stops the first preload at that stage and tells
// the parent, which then kills this process with SIGKILL.
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/main.js';
import { createQueueConnection, Jobs } from '../../src/preload/jobs.js';
import { startWorkers } from '../../src/preload/worker.js';

const hangAt = process.argv[2]?.startsWith('hang:') ? process.argv[2].slice(5) : null;
const config = loadConfig(process.env);
const app = createApp(config);
const jobs = new Jobs(createQueueConnection(config.jobs.redis), config.jobs);
startWorkers(
  { pool: app.pool, redis: app.redis, jobs, config, log: app.log },
  {
    roles: ['preload', 'check'],
    onStage: hangAt
      ? async (d, stage) => {
          if (stage !== hangAt) return;
          process.send?.({ hung: d.lessonId });
          await new Promise(() => undefined);
        }
      : undefined,
  },
);
process.send?.({ ready: true });

// The alarm monitor against real MySQL and Redis, a gateway /readyz and a
// webhook receiver on this machine: a not-ready gateway and a write-behind
// backlog over its thresholds each raise one episode and one message, nothing
// more while they hold, and one resolved message when they clear; a receiver
// that never accepts is tried ORGENGINE_ALARM_WEBHOOK_ATTEMPTS times.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAlarms, recentAlarms } from '../../src/store/mysql/console.js';
import { lessonKeys, writeBehindRegistryKey } from '../../src/store/redis/keys.js';
import { startTestConsole, type TestConsole } from '../support/console.js';

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe('alarm monitor', () => {
  let t: TestConsole;
  let gatewayReady = false;
  const messages: any[] = [];
  let refusing = 0;
  let gateway: Awaited<ReturnType<typeof listen>>;
  let hook: Awaited<ReturnType<typeof listen>>;
  let deadHook: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    gateway = await listen((_req, res) => void res.writeHead(gatewayReady ? 200 : 503).end(gatewayReady ? 'ready' : 'redis unreachable'));
    hook = await listen((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        messages.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    deadHook = await listen((_req, res) => {
      refusing++;
      res.writeHead(500).end();
    });
    t = await startTestConsole('alarm_monitor', {
      ORGENGINE_CONSOLE_GATEWAYS: gateway.url,
      ORGENGINE_ALARM_WEBHOOKS: `${hook.url}/a,${deadHook.url}/b`,
      ORGENGINE_ALARM_WEBHOOK_ATTEMPTS: '3',
      ORGENGINE_ALARM_WEBHOOK_BACKOFF_MS: '10',
      ORGENGINE_ALARM_WB_STREAM_LENGTH: '3',
      ORGENGINE_ALARM_WB_LAG_MS: '60000',
    });
  });
  afterAll(async () => {
    await t?.close();
    for (const s of [gateway, hook, deadHook]) await new Promise((r) => s?.server.close(r));
  });

  it('raises, holds quietly and resolves gateway and write-behind alarms, one message each way', async () => {
    const m = t.console.monitor;
    const lk = lessonKeys(t.config.keyPrefix, 4242);
    // A lesson a flusher watches, with 3 unflushed records whose oldest is two minutes old.
    await t.redis.zadd(writeBehindRegistryKey(t.config.keyPrefix), Date.now(), '4242');
    const old = Date.now() - 120_000;
    for (let i = 0; i < 3; i++) await t.redis.xadd(lk.writeBehind, `${old + i}-0`, 'e', 'x');

    let open = await m.evaluate();
    expect(open.map((a) => a.key).sort()).toEqual([`gateway-not-ready:${gateway.url}`, 'wb-backpressure:4242', 'wb-lag:4242']);
    await m.drained();
    expect(messages.map((x) => `${x.status} ${x.alarm.key}`).sort()).toEqual([`firing gateway-not-ready:${gateway.url}`, 'firing wb-backpressure:4242', 'firing wb-lag:4242']);
    expect(messages.find((x) => x.alarm.kind === 'gateway-not-ready').alarm.message).toContain('503');
    // The dead receiver was tried three times per message, then given up.
    expect(refusing).toBe(9);

    for (let i = 0; i < 3; i++) await m.evaluate();
    await m.drained();
    expect(messages).toHaveLength(3);

    // The gateway recovers and the backlog is flushed.
    gatewayReady = true;
    await t.redis.del(lk.writeBehind);
    open = await m.evaluate();
    expect(open).toEqual([]);
    await m.drained();
    expect(messages.slice(3).map((x) => `${x.status} ${x.alarm.key}`).sort()).toEqual([`resolved gateway-not-ready:${gateway.url}`, 'resolved wb-backpressure:4242', 'resolved wb-lag:4242']);
    expect(await openAlarms(t.db.pool)).toEqual([]);
    expect((await recentAlarms(t.db.pool, 10)).every((a) => a.state === 'resolved' && a.resolvedAt !== null)).toBe(true);

    const metrics = await t.console.metrics.registry.metrics();
    expect(metrics).toContain('orgengine_alarm_webhook_deliveries_total{result="delivered"} 6');
    expect(metrics).toContain('orgengine_alarm_webhook_deliveries_total{result="failed"} 6');
    expect(metrics).toContain('orgengine_alarms_firing{kind="wb-lag"} 0');
  });
});

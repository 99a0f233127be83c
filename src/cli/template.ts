// `orgengine template`: the mic seat layout templates (built in, and stored in
// MySQL with their Redis cache).
import { readFileSync } from 'node:fs';
import { OrgError } from '../errors.js';
import { SeatTemplates } from '../services/seatTemplates.js';
import { strOpt, withApp, type Command } from './command.js';

const SUBCOMMANDS = ['list', 'show', 'put', 'sync'] as const;

/** `orgengine template`. */
const templateCommand: Command = {
  name: 'template',
  summary: 'list, show, store (validated) and sync mic seat layout templates',
  usage: ['template list', 'template show --id ID', 'template put --file F', 'template sync'],
  subcommands: [...SUBCOMMANDS],
  options: {
    id: { type: 'string', value: 'ID', help: 'template id (show)' },
    file: { type: 'string', value: 'F', help: 'JSON file of the template: {id, name, kind, seats: [{video, audio, hostOnly?, side?, area?}]} (put)' },
  },
  example: 'orgengine template put --file pk-wide.json',
  run({ config, values: v, positionals, out }) {
    const sub = positionals[0];
    if (!SUBCOMMANDS.includes(sub as (typeof SUBCOMMANDS)[number])) {
      throw new OrgError('BAD_REQUEST', `template needs one of ${SUBCOMMANDS.join(', ')}, got ${JSON.stringify(sub ?? '')}`);
    }
    let doc: unknown = null;
    if (sub === 'put') {
      const file = strOpt(v, 'file');
      try {
        doc = JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        throw new OrgError('BAD_REQUEST', `cannot read ${file} as JSON: ${(e as Error).message}`);
      }
    }
    return withApp(config, async (app) => {
      const ia = config.interaction;
      const t = new SeatTemplates({ redis: app.redis, keyPrefix: config.keyPrefix, pool: app.pool, maxSeats: ia.seatMaxSeats, cacheMs: 0 });
      if (sub === 'list') {
        const all = await t.list();
        out.result(
          all.map((r) => ({ ...r.template, builtin: r.builtin })),
          all.map((r) => `${r.template.id.padEnd(12)} ${r.template.kind.padEnd(5)} seats=${String(r.template.seats.length).padEnd(3)} ${r.builtin ? 'built-in' : 'stored  '} ${r.template.name}`).join('\n'),
        );
      } else if (sub === 'show') {
        const r = await t.get(strOpt(v, 'id'));
        out.result({ ...r.template, builtin: r.builtin }, JSON.stringify(r.template, null, 2));
      } else if (sub === 'put') {
        const r = await t.put(doc);
        out.result({ ...r.template, builtin: false }, `template ${r.template.id} stored (${r.template.seats.length} seats)`);
      } else {
        const n = await t.sync();
        out.result({ synced: n }, `${n} stored template(s) copied to Redis`);
      }
      return 0;
    });
  },
};

/** The template commands. */
export const TEMPLATE_COMMANDS: readonly Command[] = [templateCommand];

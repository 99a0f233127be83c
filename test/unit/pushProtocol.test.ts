// The WebSocket client frames: every command decodes to its typed form, and
// every malformed frame is a BAD_REQUEST naming what is wrong (never a throw of
// anything else, which would drop the connection).
import { describe, expect, it } from 'vitest';
import { isOrgError } from '../../src/errors.js';
import { parseClientCommand } from '../../src/api/ws/protocol.js';

describe('WebSocket client frames', () => {
  it('decodes subscribe (with and without after), unsubscribe and ping, with an optional id', () => {
    expect(parseClientCommand('{"type":"subscribe","room":"main"}')).toEqual({ type: 'subscribe', room: 'main', after: null });
    expect(parseClientCommand('{"type":"subscribe","room":"t9.in","after":41,"id":"a"}')).toEqual({ type: 'subscribe', room: 't9.in', after: 41, id: 'a' });
    expect(parseClientCommand('{"type":"subscribe","room":"main","after":null}')).toEqual({ type: 'subscribe', room: 'main', after: null });
    expect(parseClientCommand('{"type":"unsubscribe","room":"main"}')).toEqual({ type: 'unsubscribe', room: 'main' });
    expect(parseClientCommand('{"type":"ping","id":"x"}')).toEqual({ type: 'ping', id: 'x' });
  });

  it('refuses malformed frames with BAD_REQUEST', () => {
    for (const bad of [
      '', 'nope', 'null', '[]', '1', '{}', '{"type":"dance"}', '{"type":"ping","x":1}', '{"type":"ping","id":5}', `{"type":"ping","id":"${'x'.repeat(65)}"}`,
      '{"type":"subscribe"}', '{"type":"subscribe","room":""}', '{"type":"subscribe","room":"a b"}', '{"type":"subscribe","room":"main","after":-1}',
      '{"type":"subscribe","room":"main","after":1.5}', '{"type":"subscribe","room":"main","after":"x"}', '{"type":"subscribe","room":"main","after":9007199254740992}',
      '{"type":"unsubscribe"}',
    ]) {
      let err: unknown = null;
      try {
        parseClientCommand(bad);
      } catch (e) {
        err = e;
      }
      expect(isOrgError(err, 'BAD_REQUEST'), bad).toBe(true);
    }
  });
});

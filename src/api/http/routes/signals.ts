// Signal routes: any role of the lesson reads a room's signals (and its
// history, playback), teachers, tutors and services publish. The service validates room, after and limit
// (taken as raw query text) and authorises.
import { OrgError } from '../../../errors.js';
import { parseJsonBody } from '../../../model/input.js';
import type { PlaybackService } from '../../../services/playback.js';
import type { SignalService } from '../../../services/signals.js';
import { parseId, parseQuery } from '../../params.js';
import { andThen, ok, type Req, type Route } from '../dispatch.js';

/** What the signal routes need. */
export interface SignalRoutesDeps {
  signals: SignalService;
  playback: PlaybackService;
}

const OK_SignalPage = ok('SignalPage');
const CREATED_PublishedSignal = ok('PublishedSignal', 201);
const OK_PlaybackPage = ok('PlaybackPage');

/** The `data` of a `{"data": ...}` body (publish, broadcast), with no query parameters; the service checks its value. */
export function dataBody(r: Req): unknown {
  parseQuery(r.query, []);
  const body = parseJsonBody(r.body, ['data'], '{"data": string}');
  if (!('data' in body)) throw new OrgError('BAD_REQUEST', 'body needs "data"');
  return body.data;
}

/** GET and POST /v1/lessons/:lessonId/rooms/:roomId/signals, and the room's playback. */
export function signalRoutes({ signals, playback }: SignalRoutesDeps): Route[] {
  return [
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/playback',
      name: 'playback',
      params: 2,
      run: (r, c) => {
        const lessonId = parseId('lessonId', r.params[0]);
        const q = parseQuery(r.query, ['after', 'from', 'to', 'limit']);
        return playback.read(c, lessonId, r.params[1]!, q).then(OK_PlaybackPage);
      },
    },
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/signals',
      name: 'signals',
      params: 2,
      run: (r, c) => {
        const lessonId = parseId('lessonId', r.params[0]);
        const q = parseQuery(r.query, ['after', 'limit']);
        return andThen(signals.read(c, lessonId, r.params[1]!, q.after, q.limit), OK_SignalPage);
      },
    },
    {
      method: 'post',
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/signals',
      name: 'publish_signal',
      limit: 'publish',
      params: 2,
      body: true,
      run: (r, c) => {
        const lessonId = parseId('lessonId', r.params[0]);
        return signals.publish(c, lessonId, r.params[1]!, dataBody(r)).then((s) => CREATED_PublishedSignal({ seq: s.seq, at: s.at }));
      },
    },
  ];
}

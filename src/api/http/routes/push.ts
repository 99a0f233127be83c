// Org-node broadcast route: teachers, tutors (within their own subtree) and
// services send a message to every student connected at or under a node. The
// push hub validates the node and the data and authorises.
import type { PushHub } from '../../../services/push.js';
import { parseId } from '../../params.js';
import { ok, type Route } from '../dispatch.js';
import { dataBody } from './signals.js';

/** What the push routes need. */
export interface PushRoutesDeps {
  push: PushHub;
}

const CREATED_BroadcastResult = ok('BroadcastResult', 201);

/** POST /v1/lessons/:lessonId/nodes/:nodeId/broadcast. */
export function pushRoutes({ push }: PushRoutesDeps): Route[] {
  return [
    {
      method: 'post',
      pattern: '/v1/lessons/:lessonId/nodes/:nodeId/broadcast',
      name: 'broadcast',
      params: 2,
      body: true,
      limit: 'publish',
      run: (r, c) => {
        const lessonId = parseId('lessonId', r.params[0]);
        return push.broadcast(c, lessonId, r.params[1]!, dataBody(r)).then(CREATED_BroadcastResult);
      },
    },
  ];
}

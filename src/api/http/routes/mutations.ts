// In-class mutation routes. Ids come from the path, the rest from a small
// JSON body (unknown fields are refused); the mutation input parsers validate
// both alike, and the service authorises (a student acts only for itself and
// never mutes) and answers with the change's write-behind version.
import { parseJsonBody } from '../../../model/input.js';
import { parseHeartbeat, parseMute, parsePickGroup, parseSignIn } from '../../../services/mutationInputs.js';
import type { MutationService } from '../../../services/mutations.js';
import { parseQuery } from '../../params.js';
import { ok, type Route } from '../dispatch.js';

/** What the mutation routes need. */
export interface MutationRoutesDeps {
  mutations: MutationService;
}

const OK_HeartbeatResult = ok('HeartbeatResult');
const OK_MuteResult = ok('MuteResult');
const OK_PickGroupResult = ok('PickGroupResult');
const OK_SignInResult = ok('SignInResult');

/** What routes without a body field accept: nothing, or `{}`. */
const NO_BODY = 'no body (or {})';

/** Group pick, mute/unmute of a student or a node, sign-in and heartbeat. */
export function mutationRoutes({ mutations }: MutationRoutesDeps): Route[] {
  const routes: Route[] = [
    {
      method: 'post',
      pattern: '/v1/lessons/:lessonId/students/:uid/group',
      name: 'pick_group',
      params: 2,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        const b = parseJsonBody(r.body, ['groupId'], '{"groupId"?: string | null}');
        return mutations.pickGroup(c, parsePickGroup({ lessonId: r.params[0], uid: r.params[1], groupId: b.groupId })).then(OK_PickGroupResult);
      },
    },
  ];
  for (const [method, muted] of [['put', true], ['del', false]] as const) {
    const name = muted ? 'mute' : 'unmute';
    routes.push(
      {
        method,
        pattern: '/v1/lessons/:lessonId/rooms/:roomId/students/:uid/mute',
        name: `${name}_student`,
        params: 3,
        body: true,
        run: (r, c) => {
          parseQuery(r.query, []);
          parseJsonBody(r.body, [], NO_BODY);
          return mutations.mute(c, parseMute({ lessonId: r.params[0], roomId: r.params[1], uid: r.params[2], muted })).then(OK_MuteResult);
        },
      },
      {
        method,
        pattern: '/v1/lessons/:lessonId/rooms/:roomId/nodes/:nodeId/mute',
        name: `${name}_node`,
        params: 3,
        body: true,
        run: (r, c) => {
          parseQuery(r.query, []);
          parseJsonBody(r.body, [], NO_BODY);
          return mutations.mute(c, parseMute({ lessonId: r.params[0], roomId: r.params[1], nodeId: r.params[2], muted })).then(OK_MuteResult);
        },
      },
    );
  }
  routes.push(
    {
      method: 'post',
      pattern: '/v1/lessons/:lessonId/students/:uid/sign-in',
      name: 'sign_in',
      params: 2,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        parseJsonBody(r.body, [], NO_BODY);
        return mutations.signIn(c, parseSignIn({ lessonId: r.params[0], uid: r.params[1] })).then(OK_SignInResult);
      },
    },
    {
      method: 'post',
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/students/:uid/heartbeat',
      name: 'heartbeat',
      params: 3,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        parseJsonBody(r.body, [], NO_BODY);
        return mutations.heartbeat(c, parseHeartbeat({ lessonId: r.params[0], roomId: r.params[1], uid: r.params[2] })).then(OK_HeartbeatResult);
      },
    },
  );
  return routes;
}

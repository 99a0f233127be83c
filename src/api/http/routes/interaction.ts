// Interaction center routes. Ids come from the path, the rest from a small
// JSON body (unknown fields are refused); the interaction input parsers
// validate both alike, and the service authorises and answers with the
// change's version. UniversalInfo answers synchronously when warm.
import type { Claims } from '../../../auth/tokens.js';
import { parseEntityId, parseJsonBody, type JsonObject } from '../../../model/input.js';
import type { InteractionService } from '../../../services/interaction.js';
import { parseAdmin, parseCreate, parseEnd, parseHandle, parseKick, parseLink, parseRtcEvent, parseSeat, parseSwitch } from '../../../services/interactionInputs.js';
import { templateView } from '../../../services/seatTemplates.js';
import { SEAT_OPS, type SeatOp } from '../../../model/seats.js';
import { parseId, parseQuery } from '../../params.js';
import { andThen, ok, type Reply, type Route } from '../dispatch.js';

/** What the interaction routes need. */
export interface InteractionRoutesDeps {
  interaction: InteractionService;
}

const OK_Create = ok('CreateResult', 201);
const OK_Link = ok('LinkResult');
const OK_End = ok('EndResult');
const OK_Rtc = ok('RtcResult');
const OK_Info = ok('RoomInteractions');
const OK_Admin = ok('RoomAdminResult');
const OK_Seat = ok('SeatResult');
const OK_Templates = ok('SeatTemplateList');
const OK_Template = ok('SeatTemplateInfo');

const SESSION = '/v1/lessons/:lessonId/interactions/:sessionId';

/**
 * A POST on one session: no query, a JSON body of `fields` (`shape` tells the
 * client what to send), merged with the path's lessonId and sessionId for the
 * input parser in `run`.
 */
function sessionPost(path: string, name: string, fields: readonly string[], shape: string, run: (o: JsonObject, c: Claims) => Promise<Reply>): Route {
  return {
    method: 'post',
    pattern: `${SESSION}/${path}`,
    name,
    params: 2,
    body: true,
    run: (r, c) => {
      parseQuery(r.query, []);
      return run({ ...parseJsonBody(r.body, fields, shape), lessonId: r.params[0], sessionId: r.params[1] }, c);
    },
  };
}

/** FastCreate, the link operations, End, RtcEvent, UniversalInfo and room admins. */
export function interactionRoutes({ interaction: ia }: InteractionRoutesDeps): Route[] {
  const link = (name: 'invite' | 'apply' | 'cancel' | 'leave'): Route =>
    sessionPost(name, `ia_${name}`, ['uid', 'by'], '{"uid"?: number, "by"?: number}', (o, c) => ia[name](c, parseLink(o)).then(OK_Link));
  return [
    {
      method: 'post',
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/interactions',
      name: 'ia_create',
      params: 2,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        const b = parseJsonBody(r.body, ['kind', 'capacity', 'channelId', 'invitee', 'templateId', 'by'], '{"kind": "duo"|"multi", "capacity"?, "channelId"?, "invitee"?, "templateId"?, "by"?}');
        return ia.fastCreate(c, parseCreate({ ...b, lessonId: r.params[0], roomId: r.params[1] })).then(OK_Create);
      },
    },
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/interactions',
      name: 'ia_info',
      params: 2,
      run: (r, c) => {
        parseQuery(r.query, []);
        return andThen(ia.universalInfo(c, parseId('lessonId', r.params[0]), parseEntityId('roomId', r.params[1])), OK_Info);
      },
    },
    link('invite'),
    link('apply'),
    link('cancel'),
    sessionPost('kick', 'ia_kick', ['uid', 'by', 'revokeTokens'], '{"uid": number, "by"?: number, "revokeTokens"?: boolean}', (o, c) => ia.kick(c, parseKick(o)).then(OK_Link)),
    link('leave'),
    sessionPost('handle', 'ia_handle', ['uid', 'accept', 'by'], '{"uid"?: number, "accept": boolean, "by"?: number}', (o, c) => ia.handle(c, parseHandle(o)).then(OK_Link)),
    sessionPost('end', 'ia_end', ['by'], '{"by"?: number}', (o, c) => ia.end(c, parseEnd(o)).then(OK_End)),
    {
      method: 'post',
      pattern: '/v1/lessons/:lessonId/rtc-events',
      name: 'ia_rtc',
      params: 1,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        const b = parseJsonBody(r.body, ['channelId', 'uid', 'event', 'eventId', 'at'], '{"channelId", "uid", "event": "joined"|"alive"|"left", "eventId", "at"}');
        return ia.rtcEvent(c, parseRtcEvent({ ...b, lessonId: r.params[0] })).then(OK_Rtc);
      },
    },
    ...SEAT_OPS.filter((op): op is Exclude<SeatOp, 'switch'> => op !== 'switch').map(
      (op): Route =>
        sessionPost(`seats/${op}`, `seat_${op}`, ['uid', 'seat', 'other', 'media', 'by'], '{"uid"?, "seat"?, "other"?, "media"?: "mic"|"cam", "by"?}', (o, c) =>
          ia.seat(c, op, parseSeat(op, o)).then(OK_Seat),
        ),
    ),
    sessionPost('layout', 'seat_switch', ['templateId', 'by'], '{"templateId": string, "by"?: number}', (o, c) => ia.switchTemplate(c, parseSwitch(o)).then(OK_Seat)),
    {
      method: 'get',
      pattern: '/v1/seat-templates',
      name: 'seat_templates',
      params: 0,
      run: (r) => {
        parseQuery(r.query, []);
        return ia.templates.list().then((l) => OK_Templates({ templates: l.map(templateView) }));
      },
    },
    {
      method: 'get',
      pattern: '/v1/seat-templates/:templateId',
      name: 'seat_template',
      params: 1,
      run: (r) => {
        parseQuery(r.query, []);
        return andThen(ia.templates.get(r.params[0]!), (t) => OK_Template(templateView(t)));
      },
    },
    ...(['put', 'del'] as const).map(
      (method): Route => ({
        method,
        pattern: '/v1/lessons/:lessonId/rooms/:roomId/interaction-admins/:uid',
        name: method === 'put' ? 'ia_admin_grant' : 'ia_admin_revoke',
        params: 3,
        body: true,
        run: (r, c) => {
          parseQuery(r.query, []);
          parseJsonBody(r.body, [], 'no body (or {})');
          return ia
            .setAdmin(c, parseAdmin({ lessonId: r.params[0], roomId: r.params[1], uid: parseId('uid', r.params[2]), granted: method === 'put' }))
            .then(OK_Admin);
        },
      }),
    ),
  ];
}

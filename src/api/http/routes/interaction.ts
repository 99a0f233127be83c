// Interaction center routes. Ids come from the path, the rest from a small
// JSON body (unknown fields are refused); the interaction input parsers
// validate both alike, and the service authorises and answers with the
// change's version. UniversalInfo answers synchronously when warm.
import { parseEntityId, parseJsonBody } from '../../../model/input.js';
import type { InteractionService } from '../../../services/interaction.js';
import { parseAdmin, parseCreate, parseEnd, parseHandle, parseKick, parseLink, parseRtcEvent, parseSeat, parseSwitch } from '../../../services/interactionInputs.js';
import { templateView } from '../../../services/seatTemplates.js';
import { SEAT_OPS, type SeatOp } from '../../../model/seats.js';
import { parseId, parseQuery } from '../../params.js';
import { andThen, ok, type Route } from '../dispatch.js';

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

/** FastCreate, the link operations, End, RtcEvent, UniversalInfo and room admins. */
export function interactionRoutes({ interaction: ia }: InteractionRoutesDeps): Route[] {
  const link = (name: 'invite' | 'apply' | 'cancel' | 'leave'): Route => ({
    method: 'post',
    pattern: `${SESSION}/${name}`,
    name: `ia_${name}`,
    params: 2,
    body: true,
    run: (r, c) => {
      parseQuery(r.query, []);
      const b = parseJsonBody(r.body, ['uid', 'by'], '{"uid"?: number, "by"?: number}');
      return ia[name](c, parseLink({ ...b, lessonId: r.params[0], sessionId: r.params[1] })).then(OK_Link);
    },
  });
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
    {
      method: 'post',
      pattern: `${SESSION}/kick`,
      name: 'ia_kick',
      params: 2,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        const b = parseJsonBody(r.body, ['uid', 'by', 'revokeTokens'], '{"uid": number, "by"?: number, "revokeTokens"?: boolean}');
        return ia.kick(c, parseKick({ ...b, lessonId: r.params[0], sessionId: r.params[1] })).then(OK_Link);
      },
    },
    link('leave'),
    {
      method: 'post',
      pattern: `${SESSION}/handle`,
      name: 'ia_handle',
      params: 2,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        const b = parseJsonBody(r.body, ['uid', 'accept', 'by'], '{"uid"?: number, "accept": boolean, "by"?: number}');
        return ia.handle(c, parseHandle({ ...b, lessonId: r.params[0], sessionId: r.params[1] })).then(OK_Link);
      },
    },
    {
      method: 'post',
      pattern: `${SESSION}/end`,
      name: 'ia_end',
      params: 2,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        const b = parseJsonBody(r.body, ['by'], '{"by"?: number}');
        return ia.end(c, parseEnd({ ...b, lessonId: r.params[0], sessionId: r.params[1] })).then(OK_End);
      },
    },
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
      (op): Route => ({
        method: 'post',
        pattern: `${SESSION}/seats/${op}`,
        name: `seat_${op}`,
        params: 2,
        body: true,
        run: (r, c) => {
          parseQuery(r.query, []);
          const b = parseJsonBody(r.body, ['uid', 'seat', 'other', 'media', 'by'], '{"uid"?, "seat"?, "other"?, "media"?: "mic"|"cam", "by"?}');
          return ia.seat(c, op, parseSeat(op, { ...b, lessonId: r.params[0], sessionId: r.params[1] })).then(OK_Seat);
        },
      }),
    ),
    {
      method: 'post',
      pattern: `${SESSION}/layout`,
      name: 'seat_switch',
      params: 2,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        const b = parseJsonBody(r.body, ['templateId', 'by'], '{"templateId": string, "by"?: number}');
        return ia.switchTemplate(c, parseSwitch({ ...b, lessonId: r.params[0], sessionId: r.params[1] })).then(OK_Seat);
      },
    },
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

// Read routes: lesson, room, members, online counts, org node, position and
// enter. They decode the path, query and body and hand the caller to the read
// service, which authorises. A warm read is answered synchronously: `andThen`
// keeps a value at hand a value, and the reply builders are made once here.
import type { ApiConfig } from '../../../config.js';
import { OrgError } from '../../../errors.js';
import { parseEntityId, parseJsonBody, parseLimit } from '../../../model/input.js';
import type { ReadService } from '../../../services/reads.js';
import { parseCursor, parseFlag, parseId, parsePartition, parseQuery } from '../../params.js';
import { andThen, ok, type Route } from '../dispatch.js';

/** What the read routes need. */
export interface ReadRoutesDeps {
  reads: ReadService;
  api: Pick<ApiConfig, 'membersPageDefault' | 'membersPageMax'>;
}

const OK_EnterView = ok('EnterView');
const OK_LessonView = ok('LessonView');
const OK_MembersPage = ok('MembersPage');
const OK_NodeView = ok('NodeView');
const OK_OnlineView = ok('OnlineView');
const OK_PositionView = ok('PositionView');
const OK_Room = ok('Room');

const ENTER_BODY = '{"room"?: string, "uid"?: number}';

/** POST /enter's body: which room, and for staff and services which student. */
function parseEnterBody(body: Buffer | null): { room: string | undefined; uid: number | null } {
  const o = parseJsonBody(body, ['room', 'uid'], ENTER_BODY);
  if (o.room !== undefined && typeof o.room !== 'string') throw new OrgError('BAD_REQUEST', 'room must be a string');
  if (o.uid !== undefined && (typeof o.uid !== 'number' || !Number.isSafeInteger(o.uid) || o.uid < 1)) throw new OrgError('BAD_REQUEST', 'uid must be a positive integer');
  return { room: o.room as string | undefined, uid: (o.uid as number | undefined) ?? null };
}

/** The read routes of the edge API. */
export function readRoutes({ reads, api }: ReadRoutesDeps): Route[] {
  const lessonOf = (params: string[]): number => parseId('lessonId', params[0]);
  const roomOf = (room: string | undefined): string => (room === undefined || room === '' ? '' : parseEntityId('room', room));
  return [
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId',
      name: 'lesson',
      params: 1,
      run: (r, c) => {
        const lessonId = lessonOf(r.params);
        parseQuery(r.query, []);
        return andThen(reads.lessonView(c, lessonId), OK_LessonView);
      },
    },
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId/rooms/:roomId',
      name: 'room',
      params: 2,
      run: (r, c) => {
        const lessonId = lessonOf(r.params);
        const roomId = parseEntityId('roomId', r.params[1]);
        parseQuery(r.query, []);
        return andThen(reads.room(c, lessonId, roomId), OK_Room);
      },
    },
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/members',
      name: 'members',
      params: 2,
      run: (r, c) => {
        const lessonId = lessonOf(r.params);
        const roomId = parseEntityId('roomId', r.params[1]);
        const q = parseQuery(r.query, ['partition', 'cursor', 'limit']);
        const partition = parsePartition(q.partition);
        const query = { partition, cursor: parseCursor(q.cursor, partition), limit: parseLimit(q.limit, { def: api.membersPageDefault, max: api.membersPageMax }) };
        return andThen(reads.members(c, lessonId, roomId, query), OK_MembersPage);
      },
    },
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/online',
      name: 'online',
      params: 2,
      run: (r, c) => {
        const lessonId = lessonOf(r.params);
        const roomId = parseEntityId('roomId', r.params[1]);
        parseQuery(r.query, []);
        return andThen(reads.online(c, lessonId, roomId), OK_OnlineView);
      },
    },
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId/nodes/:nodeId',
      name: 'node',
      params: 2,
      run: (r, c) => {
        const lessonId = lessonOf(r.params);
        const nodeId = parseEntityId('nodeId', r.params[1]);
        const q = parseQuery(r.query, ['children', 'parent', 'source']);
        const o = { children: parseFlag('children', q.children), parent: parseFlag('parent', q.parent), source: parseFlag('source', q.source) };
        return andThen(reads.node(c, lessonId, nodeId, o), OK_NodeView);
      },
    },
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId/students/:uid/position',
      name: 'position',
      params: 2,
      run: (r, c) => {
        const lessonId = lessonOf(r.params);
        const uid = parseId('uid', r.params[1]);
        parseQuery(r.query, []);
        return andThen(reads.position(c, lessonId, uid), OK_PositionView);
      },
    },
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId/enter',
      name: 'enter',
      params: 1,
      run: (r, c) => {
        const lessonId = lessonOf(r.params);
        const q = parseQuery(r.query, ['room', 'uid']);
        return andThen(reads.enter(c, lessonId, q.uid === undefined ? null : parseId('uid', q.uid), roomOf(q.room)), OK_EnterView);
      },
    },
    {
      method: 'post',
      pattern: '/v1/lessons/:lessonId/enter',
      name: 'enter',
      params: 1,
      body: true,
      // An enter reads: the read class, like GET.
      limit: 'read',
      run: (r, c) => {
        const lessonId = lessonOf(r.params);
        parseQuery(r.query, []);
        const body = parseEnterBody(r.body);
        return andThen(reads.enter(c, lessonId, body.uid, roomOf(body.room)), OK_EnterView);
      },
    },
  ];
}

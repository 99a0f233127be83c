// Score routes: teachers, tutors and services award points (one event, idempotent
// by its key) and run PK rounds; any role of the lesson reads the boards, node
// totals and rounds, and a student its own totals and ranks. Ids come from the
// path, the event from a small JSON body (unknown fields are refused); the
// score input parsers validate both alike and the service authorises.
import { parseEntityId, parseJsonBody } from '../../../model/input.js';
import { parseAward, parseBoardLimit, parsePkEnd, parsePkScope, parsePkStart } from '../../../services/scoreInputs.js';
import type { ScoreService } from '../../../services/scores.js';
import { parseId, parseQuery } from '../../params.js';
import type { Claims } from '../../../auth/tokens.js';
import { andThen, ok, type MaybeAsync, type Reply, type Route } from '../dispatch.js';

/** What the score routes need. */
export interface ScoreRoutesDeps {
  scores: ScoreService;
}

const OK_AwardResult = ok('AwardResult');
const OK_UserBoard = ok('UserBoard');
const OK_NodeScores = ok('NodeScores');
const OK_StudentScores = ok('StudentScores');
const OK_PkRound = ok('PkRound');
const CREATED_PkRound = ok('PkRound', 201);

const AWARD_SHAPE =
  '{"key": string, "roomId": string, "sessionId"?: string, "uid" | "nodeId", "seatId"?: string, "side"?: "left"|"right", "kind": "reward"|"answer"|"gift"|"adjust", "points": integer, "roundId"?: integer}';

/** Awards, boards, node and student totals, PK rounds. */
export function scoreRoutes({ scores }: ScoreRoutesDeps): Route[] {
  const scoreBounds = scores.bounds;
  const limitOf = (raw: string | undefined): number => parseBoardLimit(raw, scoreBounds);
  /** A board read by one id under the lesson (room, node): GET, both ids from the path, an optional ?limit. */
  const boardRoute = (
    pattern: string,
    name: string,
    idName: string,
    read: (c: Claims, lessonId: number, id: string, limit: number) => MaybeAsync<object>,
    done: (view: object) => Reply,
  ): Route => ({
    method: 'get',
    pattern,
    name,
    params: 2,
    run: (r, c) => {
      const q = parseQuery(r.query, ['limit']);
      return andThen(read(c, parseId('lessonId', r.params[0]), parseEntityId(idName, r.params[1]), limitOf(q.limit)), done);
    },
  });
  return [
    {
      method: 'post',
      pattern: '/v1/lessons/:lessonId/scores',
      name: 'award',
      params: 1,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        const b = parseJsonBody(r.body, ['key', 'roomId', 'sessionId', 'uid', 'nodeId', 'seatId', 'side', 'kind', 'points', 'roundId'], AWARD_SHAPE);
        return scores.award(c, parseAward({ ...b, lessonId: r.params[0] }, scoreBounds)).then(OK_AwardResult);
      },
    },
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId/scores',
      name: 'lesson_board',
      params: 1,
      run: (r, c) => {
        const q = parseQuery(r.query, ['limit']);
        return andThen(scores.userBoard(c, parseId('lessonId', r.params[0]), null, limitOf(q.limit)), OK_UserBoard);
      },
    },
    boardRoute('/v1/lessons/:lessonId/rooms/:roomId/scores', 'room_board', 'roomId', (c, lessonId, roomId, limit) => scores.userBoard(c, lessonId, roomId, limit), OK_UserBoard),
    boardRoute('/v1/lessons/:lessonId/nodes/:nodeId/scores', 'node_scores', 'nodeId', (c, lessonId, nodeId, limit) => scores.nodeScores(c, lessonId, nodeId, limit), OK_NodeScores),
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId/students/:uid/scores',
      name: 'student_scores',
      params: 2,
      run: (r, c) => {
        const q = parseQuery(r.query, ['room']);
        const room = q.room === undefined || q.room === '' ? null : parseEntityId('room', q.room);
        return andThen(scores.student(c, parseId('lessonId', r.params[0]), parseId('uid', r.params[1]), room), OK_StudentScores);
      },
    },
    {
      method: 'post',
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/pk',
      name: 'pk_start',
      params: 2,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        const b = parseJsonBody(r.body, ['sessionId', 'kind', 'a', 'b', 'durationSeconds'], '{"kind": "node"|"seat", "a"?: nodeId, "b"?: nodeId, "durationSeconds": integer, "sessionId"?: string}');
        return scores.startPk(c, parsePkStart({ ...b, lessonId: r.params[0], roomId: r.params[1] }, scoreBounds)).then(CREATED_PkRound);
      },
    },
    {
      method: 'get',
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/pk',
      name: 'pk_read',
      params: 2,
      run: (r, c) => {
        const q = parseQuery(r.query, ['session']);
        return andThen(scores.pk(c, parsePkScope({ lessonId: r.params[0], roomId: r.params[1], sessionId: q.session })), OK_PkRound);
      },
    },
    {
      method: 'post',
      pattern: '/v1/lessons/:lessonId/rooms/:roomId/pk/:roundId/end',
      name: 'pk_end',
      params: 3,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        const b = parseJsonBody(r.body, ['sessionId'], '{"sessionId"?: string} or no body');
        return scores.endPk(c, parsePkEnd({ lessonId: r.params[0], roomId: r.params[1], roundId: r.params[2], sessionId: b.sessionId })).then(OK_PkRound);
      },
    },
  ];
}

// Token revocation for platform services: POST /v1/lessons/:lessonId/revocations
// with {"uid"?: number, "before"?: epoch ms}; no uid revokes every token of the
// lesson, no before means now. The service authorises (service tokens only).
import { parseJsonBody } from '../../../model/input.js';
import type { RevocationService } from '../../../services/revocation.js';
import { checkId, parseId, parseQuery } from '../../params.js';
import { ok, type Route } from '../dispatch.js';

/** What the token routes need. */
export interface TokenRoutesDeps {
  revocation: RevocationService;
}

const CREATED_RevokeResult = ok('RevokeResult', 201);

/** POST /v1/lessons/:lessonId/revocations. */
export function tokenRoutes({ revocation }: TokenRoutesDeps): Route[] {
  return [
    {
      method: 'post',
      pattern: '/v1/lessons/:lessonId/revocations',
      name: 'revoke',
      params: 1,
      body: true,
      run: (r, c) => {
        parseQuery(r.query, []);
        const lessonId = parseId('lessonId', r.params[0]);
        const b = parseJsonBody(r.body, ['uid', 'before'], '{"uid"?: number, "before"?: epoch ms}');
        const uid = b.uid === undefined || b.uid === null ? null : checkId('uid', b.uid);
        return revocation.revoke(c, lessonId, uid, b.before ?? null).then(CREATED_RevokeResult);
      },
    },
  ];
}

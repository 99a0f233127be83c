// The one definition of room and org-node ids. The compiler makes them
// ('main', 't9.in', 't9.g3', 'root', groups created in class 't9.x1'), and
// every place that takes one from outside checks it against this language:
// request paths and bodies, gRPC messages, write-behind records and channel
// messages. An id accepted at one edge is then accepted at every other. Key
// names need nothing narrower: an id is always the last part of its key, and a
// `signal:<roomId>:<seq>` message is split at its last colon.

const ALPHABET = 'A-Za-z0-9._:-';

/** Longest room or node id. */
export const ENTITY_ID_MAX_LENGTH = 64;

/** The id alphabet with a length bound; ENTITY_ID is this at ENTITY_ID_MAX_LENGTH. */
export function entityIdPattern(maxLength: number): RegExp {
  return new RegExp(`^[${ALPHABET}]{1,${maxLength}}$`);
}

/** A room or node id: 1-64 chars of [A-Za-z0-9._:-]. */
export const ENTITY_ID = entityIdPattern(ENTITY_ID_MAX_LENGTH);

/** ENTITY_ID in words, for error messages. */
export const ENTITY_ID_RULE = `1-${ENTITY_ID_MAX_LENGTH} chars of [${ALPHABET}]`;

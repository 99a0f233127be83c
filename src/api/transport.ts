// What every transport (HTTP, gRPC, and the WebSocket and interaction routes to
// come) is built from: the services it calls, which validate and authorise,
// the verifier that turns a token into the caller it hands them, and where it
// reports. Written once so a new transport starts from the same parts.
import type { Logger } from 'pino';
import type { TokenVerifier } from '../auth/tokens.js';
import type { Metrics } from '../metrics.js';
import type { Tracing } from '../tracing.js';
import type { InteractionService } from '../services/interaction.js';
import type { MutationService } from '../services/mutations.js';
import type { PlaybackService } from '../services/playback.js';
import type { PushHub } from '../services/push.js';
import type { ReadService } from '../services/reads.js';
import type { ScoreService } from '../services/scores.js';
import type { SignalService } from '../services/signals.js';

/** The services, token verifier, metrics and log a transport needs. */
export interface TransportDeps {
  reads: ReadService;
  signals: SignalService;
  mutations: MutationService;
  /** The interaction center: sessions, links, RTC events, UniversalInfo. */
  interaction: InteractionService;
  /** Live push: WebSocket sessions and org-node broadcasts. */
  push: PushHub;
  /** A room's signal history from MySQL. */
  playback: PlaybackService;
  /** Score ledger, totals, boards and PK rounds. */
  scores: ScoreService;
  tokens: TokenVerifier;
  metrics: Metrics;
  log: Logger;
  /** Request spans, when they are exported (ORGENGINE_OTLP_ENDPOINT); absent or not exporting: no tracing work per request. */
  tracing?: Tracing;
}

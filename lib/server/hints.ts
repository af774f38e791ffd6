/**
 * A call's scheduling and KV hints, read from the ecosystem's envelopes into the engine's options
 * (docs/server.md, "Hints"): vLLM's request `priority` (lower is served earlier), Dynamo's
 * `nvext.agent_hints` (`priority`, higher is served earlier; `osl`, the expected output length),
 * and vLLM's `kv_hints` envelope (RFC vllm#53421, protocol 0.1) with the actions `kv.retain`,
 * `vllm.set_priority` and Astraea's own `astraea.tool_time` and `astraea.remaining_segments`.
 *
 * The envelope's shape is checked by the route's schema; this module checks each action's payload
 * and turns it into GenerateOptions. A malformed hint is a 400 naming its field. A hint this
 * server cannot read but that is well formed — another protocol version, a major action version
 * other than 1, an action type addressed to another component (`kv.fetch`, or a namespace that is
 * not `astraea.`, `vllm.` or `kv.`) — is skipped and listed, never refused: hints are soft.
 */
import type { GenerateOptions, RetainRange } from '../engine/types.js';
import { badRequest } from './errors.js';

/** The hint fields of a request body (lib/server/schemas.ts). */
export interface HintFields {
  priority?: number;
  nvext?: { agent_hints?: { priority?: number; osl?: number } };
  kv_hints?: {
    protocol_version: string;
    message_id: string;
    actions: { action_id?: string; action_type: string; action_version: string; payload: object }[];
  };
}

export type HintOptions = Pick<GenerateOptions, 'priority' | 'expectedOutputTokens' | 'expectedToolS' | 'expectedFutureSegments' | 'retain' | 'cachePriority'>;

export interface CallHints {
  options: HintOptions;
  /** Actions skipped as unreadable here (`actions[i] type@version`), for the response header. */
  skipped: string[];
}

export const KV_HINTS_PROTOCOL = '0.1';
/** vLLM's bounds on `kv.retain`: a duration of at most 30 days, 128 directives per envelope. */
const MAX_RETAIN_DURATION_S = 30 * 24 * 3600;
const MAX_RETAIN_DIRECTIVES = 128;
/** Namespaces whose action types this server knows all of: an unknown one there is a mistake. */
const OWN_NAMESPACES = ['astraea.', 'vllm.', 'kv.'];
/** Action types of those namespaces meant for another component (Dynamo's router fetch for KVCR). */
const OTHERS_ACTIONS = new Set(['kv.fetch']);

type Payload = Record<string, unknown>;

export function callHints(body: HintFields): CallHints {
  const options: HintOptions = {};
  const skipped: string[] = [];
  // vLLM: lower is served earlier; the engine's priority is higher-sooner, so vLLM's is negated.
  if (body.priority !== undefined && body.priority !== 0) options.priority = -body.priority;
  const agent = body.nvext?.agent_hints;
  if (agent?.priority !== undefined) options.priority = agent.priority; // Dynamo's: higher sooner, as the engine's
  if (agent?.osl !== undefined) options.expectedOutputTokens = agent.osl;
  const envelope = body.kv_hints;
  if (envelope === undefined) return { options, skipped };
  envelope.actions.forEach((action, i) => {
    const where = `kv_hints.actions[${i}]`;
    const known = ACTIONS[action.action_type];
    if (known === undefined) {
      const ours = OWN_NAMESPACES.some((ns) => action.action_type.startsWith(ns)) && !OTHERS_ACTIONS.has(action.action_type);
      if (ours) throw badRequest(`${where}.action_type: unknown action "${action.action_type}" (known: ${Object.keys(ACTIONS).join(', ')})`, `${where}.action_type`, 'invalid_value');
    }
    if (known === undefined || envelope.protocol_version !== KV_HINTS_PROTOCOL || !/^1(\.|$)/.test(action.action_version)) {
      skipped.push(`actions[${i}] ${action.action_type}@${action.action_version}`);
      return;
    }
    known(action.payload as Payload, `${where}.payload`, options);
  });
  return { options, skipped };
}

/** Each known action: checks its payload (v1) and writes what it says into the options. */
const ACTIONS: Record<string, (payload: Payload, where: string, options: HintOptions) => void> = {
  /** vLLM: `{scope?, directives: [{start?, end?, priority 0–100, duration?} | {covers_output: true, priority, duration?}]}`. */
  'kv.retain': (payload, where, options) => {
    onlyFields(payload, where, ['scope', 'directives']);
    if (payload.scope != null && typeof payload.scope !== 'string') throw bad(`${where}.scope`, 'must be a string or null');
    const directives = payload.directives;
    if (!Array.isArray(directives)) throw bad(`${where}.directives`, 'must be an array');
    const ranges = (options.retain ??= []);
    directives.forEach((d: unknown, j) => ranges.push(retainRange(d, `${where}.directives[${j}]`)));
    if (ranges.length > MAX_RETAIN_DIRECTIVES) throw bad(`${where}.directives`, `at most ${MAX_RETAIN_DIRECTIVES} directives per call`);
  },
  /** vLLM: `{target?: "request_cached", location?: "local_g1", claim_id?, revision?, value: int | null, ttl_seconds}`. */
  'vllm.set_priority': (payload, where, options) => {
    onlyFields(payload, where, ['target', 'location', 'claim_id', 'revision', 'value', 'ttl_seconds']);
    if (payload.target !== undefined && payload.target !== 'request_cached') throw bad(`${where}.target`, 'must be "request_cached"');
    if (payload.location !== undefined && payload.location !== 'local_g1') throw bad(`${where}.location`, 'must be "local_g1"');
    if (payload.claim_id !== undefined && !(typeof payload.claim_id === 'string' && payload.claim_id.length >= 1 && payload.claim_id.length <= 256)) {
      throw bad(`${where}.claim_id`, 'must be a string of 1 to 256 characters');
    }
    if (payload.revision !== undefined && !(Number.isInteger(payload.revision) && (payload.revision as number) >= 0)) throw bad(`${where}.revision`, 'must be an integer >= 0');
    const { value, ttl_seconds: ttl } = payload;
    if (value === null) {
      // vLLM's "clear this claim": claims are not kept by id here, so nothing to clear (an earlier value lapses at its ttl).
      if (ttl != null) throw bad(`${where}.ttl_seconds`, 'must be omitted when value is null');
      return;
    }
    if (!Number.isInteger(value)) throw bad(`${where}.value`, 'must be an integer or null');
    if (!(typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0)) throw bad(`${where}.ttl_seconds`, 'must be a finite number > 0 when value is set');
    options.cachePriority = { value: value as number, ttlS: ttl };
  },
  /** Astraea: `{seconds}`, the tool call this segment will end in (as the body's expected_tool_s). */
  'astraea.tool_time': (payload, where, options) => {
    onlyFields(payload, where, ['seconds']);
    const s = payload.seconds;
    if (!(typeof s === 'number' && Number.isFinite(s) && s >= 0)) throw bad(`${where}.seconds`, 'must be a number >= 0');
    options.expectedToolS = s;
  },
  /** Astraea: `{segments}`, the segments the job will run after this one. */
  'astraea.remaining_segments': (payload, where, options) => {
    onlyFields(payload, where, ['segments']);
    const n = payload.segments;
    if (!(Number.isInteger(n) && (n as number) >= 0)) throw bad(`${where}.segments`, 'must be an integer >= 0');
    options.expectedFutureSegments = n as number;
  },
};

/** The response header listing the actions skipped (and a log line), or none. */
export function skippedHintsHeader(hints: CallHints, log: { info(object: object, message: string): void }): Record<string, string> {
  if (hints.skipped.length === 0) return {};
  log.info({ skipped: hints.skipped }, 'kv_hints actions skipped (another protocol or action version, or another component\'s action)');
  return { 'x-astraea-hints-skipped': hints.skipped.join(', ') };
}

function retainRange(d: unknown, where: string): RetainRange {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw bad(where, 'must be an object');
  const directive = d as Payload;
  onlyFields(directive, where, ['start', 'end', 'priority', 'duration', 'covers_output']);
  const { start = 0, end = null, priority, duration = null, covers_output: coversOutput = false } = directive;
  if (!(Number.isInteger(priority) && (priority as number) >= 0 && (priority as number) <= 100)) throw bad(`${where}.priority`, 'must be an integer in [0, 100]');
  if (!(Number.isInteger(start) && (start as number) >= 0)) throw bad(`${where}.start`, 'must be an integer >= 0');
  if (end !== null && !(Number.isInteger(end) && (end as number) > (start as number))) throw bad(`${where}.end`, 'must be null or an integer > start');
  if (duration !== null && !(typeof duration === 'number' && Number.isFinite(duration) && duration >= 0 && duration <= MAX_RETAIN_DURATION_S)) {
    throw bad(`${where}.duration`, `must be null or a number of seconds in [0, ${MAX_RETAIN_DURATION_S}]`);
  }
  if (typeof coversOutput !== 'boolean') throw bad(`${where}.covers_output`, 'must be a boolean');
  if (coversOutput && ('start' in directive || 'end' in directive)) throw bad(`${where}.covers_output`, 'cannot be combined with start or end');
  const range: RetainRange = { start: start as number, end: end as number | null, priority: priority as number, durationS: duration as number | null, label: where };
  if (coversOutput) range.coversOutput = true;
  return range;
}

function onlyFields(payload: Payload, where: string, fields: readonly string[]): void {
  for (const key of Object.keys(payload)) if (!fields.includes(key)) throw bad(`${where}.${key}`, `is not a field of this action (fields: ${fields.join(', ')})`);
}

const bad = (field: string, message: string) => badRequest(`${field} ${message}`, field, 'invalid_value');

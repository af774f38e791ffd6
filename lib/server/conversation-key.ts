/**
 * Fingerprints of a conversation, for joining a call that carries no job id to the job whose
 * history it extends. A client of the OpenAI API resends the whole conversation each call: the
 * messages it sent last time, the reply it got, then what is new (tool results, a user turn).
 * So a call extends a job when some prefix of its messages hashes to that job's last messages
 * plus reply. Messages are compared by the fields that change what the model sees, normalised
 * the way clients commonly round-trip them (content null or '' alike, tool calls by name and
 * arguments).
 */
import { createHash, type Hash } from 'node:crypto';
import type { ChatMessage } from '../model/tokenizer.js';

function canonical(m: ChatMessage): string {
  return JSON.stringify([
    m.role,
    m.content ?? '',
    (m.tool_calls ?? []).map((c) => [c.id ?? '', c.function.name, typeof c.function.arguments === 'string' ? c.function.arguments : JSON.stringify(c.function.arguments)]),
    m.tool_call_id ?? '',
    m.name ?? '',
  ]);
}

function add(hash: Hash, m: ChatMessage): void {
  hash.update(canonical(m));
  hash.update('\u0000');
}

/**
 * A hash that starts from the cache salt (none: the unsalted space), so the same conversation
 * under two salts has unrelated fingerprints and a call never joins another tenant's job.
 */
function saltedHash(cacheSalt: string | null): Hash {
  const hash = createHash('sha256');
  hash.update(cacheSalt === null ? 'unsalted\u0000' : `salt\u0000${cacheSalt.length}\u0000${cacheSalt}\u0000`);
  return hash;
}

/** The fingerprint of exactly these messages, under a cache salt. */
export function conversationKey(messages: readonly ChatMessage[], cacheSalt: string | null = null): string {
  const hash = saltedHash(cacheSalt);
  for (const m of messages) add(hash, m);
  return hash.digest('base64url');
}

/**
 * Fingerprints of every proper prefix of `messages` (lengths messages.length − 1 down to 1),
 * longest first: the candidates for the history this call extends.
 */
export function prefixKeys(messages: readonly ChatMessage[], cacheSalt: string | null = null): string[] {
  const hash = saltedHash(cacheSalt);
  const keys: string[] = [];
  for (let i = 0; i < messages.length - 1; i++) {
    add(hash, messages[i]);
    keys.push(hash.copy().digest('base64url'));
  }
  return keys.reverse();
}

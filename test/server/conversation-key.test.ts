/** Fingerprints for joining id-less calls to the job whose conversation they extend. */
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../lib/model/tokenizer.js';
import { conversationKey, prefixKeys } from '../../lib/server/conversation-key.js';

const sys: ChatMessage = { role: 'system', content: 'Be brief.' };
const user: ChatMessage = { role: 'user', content: 'Weather in Paris?' };
const call: ChatMessage = { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] };
const result: ChatMessage = { role: 'tool', content: '{"temp": 21}', tool_call_id: 'c1' };

describe('conversation keys', () => {
  it('a call extending a conversation has that conversation among its prefixes, longest first', () => {
    const keys = prefixKeys([sys, user, call, result]);
    expect(keys).toEqual([conversationKey([sys, user, call]), conversationKey([sys, user]), conversationKey([sys])]);
    expect(prefixKeys([user])).toEqual([]); // a lone message extends nothing
  });

  it('normalises what clients change when they send a reply back, and nothing else', () => {
    expect(conversationKey([sys, user, { ...call, content: '' }])).toBe(conversationKey([sys, user, call]));
    const objectArgs: ChatMessage = { ...call, tool_calls: [{ id: 'c1', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] };
    expect(conversationKey([objectArgs])).toBe(conversationKey([{ ...call, tool_calls: [{ id: 'c1', function: { name: 'get_weather', arguments: JSON.stringify({ city: 'Paris' }) } }] }]));
    expect(conversationKey([sys, user])).not.toBe(conversationKey([sys, { ...user, content: 'Weather in Rome?' }]));
    expect(conversationKey([sys, user])).not.toBe(conversationKey([user, sys]));
    // Message boundaries count: one message 'ab' is not two messages 'a' and 'b'.
    expect(conversationKey([{ role: 'user', content: 'ab' }])).not.toBe(conversationKey([{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }]));
  });

  it('lives in the space of its cache salt: the same messages under two salts are unrelated', () => {
    const plain = conversationKey([sys, user]);
    expect(conversationKey([sys, user], 'a')).not.toBe(plain);
    expect(conversationKey([sys, user], 'a')).not.toBe(conversationKey([sys, user], 'b'));
    expect(prefixKeys([sys, user, call], 'a')[0]).toBe(conversationKey([sys, user], 'a'));
    expect(prefixKeys([sys, user, call], 'a')).not.toContain(plain);
    // The salt's length is part of it: salt 'a' with a message is not salt 'a\u0000…' without.
    expect(conversationKey([user], 'a')).not.toBe(conversationKey([], `a\u0000${JSON.stringify(['user', user.content, [], '', ''])}`));
  });
});

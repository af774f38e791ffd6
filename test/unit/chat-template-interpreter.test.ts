/**
 * The Python Jinja2 behaviour our template interpreter adds to @huggingface/jinja
 * (lib/model/chat-template-interpreter.ts). Each expected value is what Python Jinja2 3.1 gives for
 * the same template, worked out from its documented semantics (select/reject apply a test or
 * truthiness; `==` is Python's) and confirmed by running jinja2 3.1.6.
 */
import { describe, expect, it } from 'vitest';
import { renderChatTemplate } from '../../lib/model/chat-template.js';

function render(template: string, extra: Record<string, unknown> = {}): string {
  return renderChatTemplate(template, { messages: [], addGenerationPrompt: false, bosToken: null, eosToken: null, extra });
}

const ifYes = (condition: string) => `{% if ${condition} %}yes{% else %}no{% endif %}`;

describe('select / reject filters', () => {
  it('with a test and its argument (as Llama 3.1 lists its built-in tools)', () => {
    expect(render("{{ ['a', 'b', 'c'] | reject('equalto', 'b') | join(',') }}")).toBe('a,c');
    expect(render("{{ [1, 2, 3, 4, 5] | select('odd') | join(',') }}")).toBe('1,3,5');
    expect(render("{{ builtin_tools | reject('equalto', 'code_interpreter') | join(', ') }}", { builtin_tools: ['brave_search', 'code_interpreter', 'wolfram_alpha'] })).toBe(
      'brave_search, wolfram_alpha',
    );
  });

  it('bare: Python truthiness (0, "", none and [] are false; [0] is true)', () => {
    expect(render("{{ [0, 1, '', 'x', none, [], [0]] | select | list | length }}")).toBe('3');
    expect(render("{{ [0, 1, '', 'x'] | reject | list | length }}")).toBe('2');
  });

  it('an unknown test fails the render, as in Python', () => {
    expect(() => render("{{ [1] | select('no_such_test') | list }}")).toThrow(expect.objectContaining({ code: 'INVALID_TEMPLATE' }));
  });
});

describe('== and != as in Python', () => {
  it('mappings and lists compare by content, nested and in any key order', () => {
    expect(render(ifYes("{'a': 1, 'b': [1, 2]} == {'b': [1, 2], 'a': 1}"))).toBe('yes');
    expect(render(ifYes('[1, [2]] != [1, [2]]'))).toBe('no');
    expect(render(ifYes('[1, 2] == [1, 2, 3]'))).toBe('no');
    expect(render(ifYes("{'a': none} == {'b': none}"))).toBe('no');
  });

  it('two equal messages are equal even as separate objects (what Mistral v0.3 tests)', () => {
    const messages = [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'user', content: 'Weather in Paris?' },
    ];
    expect(render(ifYes('m[0] == m[1]'), { m: messages })).toBe('yes');
    expect(render(ifYes('m[0] == m[1]'), { m: [messages[0], { ...messages[1], content: 'Other' }] })).toBe('no');
  });

  it('numbers by value across int, float and bool; a string never equals a number', () => {
    expect(render(ifYes('1 == 1.0 and true == 1'))).toBe('yes');
    expect(render(ifYes("'1' == 1"))).toBe('no');
    expect(render(ifYes('none == none'))).toBe('yes');
  });
});

describe('the globals transformers gives a template', () => {
  it('range, with Python arguments', () => {
    expect(render("{{ range(3) | join(',') }}|{{ range(1, 7, 2) | join(',') }}|{{ range(3, 0, -1) | join(',') }}")).toBe('0,1,2|1,3,5|3,2,1');
  });

  it('strftime_now: local time, English month names (Python C locale)', () => {
    const now = new Date();
    const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][now.getMonth()];
    const expected = `${String(now.getDate()).padStart(2, '0')} ${month} ${now.getFullYear()}`;
    expect(render('{{ strftime_now("%d %b %Y") }}')).toBe(expected);
  });

  it('raise_exception rejects the conversation with the template message', () => {
    expect(() => render('{{ raise_exception("roles must alternate") }}')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('roles must alternate') }),
    );
  });
});

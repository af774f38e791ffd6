/**
 * Rendering of Hugging Face chat templates (Jinja) with @huggingface/jinja's parser and an
 * interpreter corrected to Python Jinja2's behaviour where real templates need it
 * (./chat-template-interpreter.ts).
 *
 * The render context follows transformers' `apply_chat_template`: `messages`, `tools` (null when
 * none were given), `add_generation_prompt`, `bos_token`, `eos_token`, plus `raise_exception`,
 * `strftime_now` and `range`.
 * Parse and render failures become EngineError('INVALID_TEMPLATE'); a template that calls
 * `raise_exception(...)` on purpose is rejecting the conversation, not broken, so that becomes
 * EngineError('INVALID_ARGUMENT') carrying the template's message.
 */
import { Template } from '@huggingface/jinja';
import { EngineError } from '../errors.js';
import { renderParsed } from './chat-template-interpreter.js';

export interface ChatTemplateRenderContext {
  messages: readonly unknown[];
  tools?: readonly object[] | null;
  addGenerationPrompt: boolean;
  bosToken: string | null;
  eosToken: string | null;
  /** Extra variables some templates read (e.g. `enable_thinking`, `date_string`). */
  extra?: Record<string, unknown>;
}

/** The shapes `chat_template` takes in tokenizer_config.json: one string or named templates. */
export type ChatTemplateSpec = string | { name: string; template: string }[];

const CACHE_LIMIT = 16;
const compiled = new Map<string, Template>();

function compile(template: string): Template {
  const hit = compiled.get(template);
  if (hit) return hit;
  let parsed: Template;
  try {
    parsed = new Template(template);
  } catch (err) {
    throw new EngineError('INVALID_TEMPLATE', `chat template failed to parse: ${errorMessage(err)}`);
  }
  if (compiled.size >= CACHE_LIMIT) {
    const oldest = compiled.keys().next().value;
    if (oldest !== undefined) compiled.delete(oldest);
  }
  compiled.set(template, parsed);
  return parsed;
}

export function renderChatTemplate(template: string, ctx: ChatTemplateRenderContext): string {
  if (typeof template !== 'string' || template.length === 0) {
    throw new EngineError('NO_CHAT_TEMPLATE', 'no chat template to render');
  }
  if (!Array.isArray(ctx.messages)) {
    throw new EngineError('INVALID_ARGUMENT', 'messages must be an array');
  }
  const tpl = compile(template);
  const items: Record<string, unknown> = {
    ...(ctx.extra ?? {}),
    messages: ctx.messages,
    tools: ctx.tools ?? null,
    add_generation_prompt: ctx.addGenerationPrompt,
    bos_token: ctx.bosToken ?? '',
    eos_token: ctx.eosToken ?? '',
    raise_exception: (message: unknown): never => {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `chat template rejected the conversation: ${String(message)}`,
      );
    },
  };
  let out: unknown;
  try {
    out = renderParsed(tpl, items);
  } catch (err) {
    if (err instanceof EngineError) throw err;
    throw new EngineError('INVALID_TEMPLATE', `chat template failed to render: ${errorMessage(err)}`);
  }
  if (typeof out !== 'string') {
    throw new EngineError('INVALID_TEMPLATE', 'chat template did not render to a string');
  }
  return out;
}

/**
 * Picks the template to use from a tokenizer_config `chat_template` value. The list form follows
 * transformers: use "tool_use" when tools are given and it exists, else "default", else the only
 * entry. Returns null when there is no usable template.
 */
export function selectChatTemplate(spec: unknown, hasTools: boolean): string | null {
  if (typeof spec === 'string') return spec.length > 0 ? spec : null;
  if (!Array.isArray(spec)) return null;
  const named = new Map<string, string>();
  for (const entry of spec) {
    if (entry && typeof entry === 'object') {
      const { name, template } = entry as { name?: unknown; template?: unknown };
      if (typeof name === 'string' && typeof template === 'string') named.set(name, template);
    }
  }
  if (hasTools && named.has('tool_use')) return named.get('tool_use')!;
  if (named.has('default')) return named.get('default')!;
  if (named.size === 1) return named.values().next().value ?? null;
  return null;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

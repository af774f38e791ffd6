/** Reading a server-sent-events reply the way a client does: the `data:` payloads, in order. */

/** Every `data:` payload of an SSE body, `[DONE]` as the string, the rest parsed as JSON. */
export function sseEvents(text: string): (Record<string, any> | '[DONE]')[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length))
    .map((data) => (data === '[DONE]' ? '[DONE]' : (JSON.parse(data) as Record<string, any>)));
}

/** The whole body of a streamed response, as text. */
export async function readBody(response: Response): Promise<string> {
  return new TextDecoder().decode(await response.arrayBuffer());
}

/** Reads the body until `predicate` holds for what arrived so far; returns that text and the rest's promise. */
export async function readUntil(response: Response, predicate: (text: string) => boolean): Promise<{ head: string; rest: Promise<string> }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let head = '';
  while (!predicate(head)) {
    const { value, done } = await reader.read();
    if (done) return { head, rest: Promise.resolve('') };
    head += decoder.decode(value, { stream: true });
  }
  const rest = (async () => {
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
    }
  })();
  return { head, rest };
}

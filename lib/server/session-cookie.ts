/**
 * llm-d's session cookie, `llm-d-session`. A cookie-based router (llm-d's session-id producer with
 * `cookieName: llm-d-session`) binds the cookie's value to the replica that served it and sends
 * the session's later calls there; a client that keeps cookies (a browser, an HTTP client with a
 * cookie jar) returns it without a line of code. So a chat reply sets it to the call's job id
 * when the call came without one, and a call that brings one is grouped by it as by
 * `x-session-token` (a hint: it groups, it never refuses). A value the router set itself (older
 * llm-d versions write their own) is never overwritten.
 */
export const SESSION_COOKIE = 'llm-d-session';

/** The cookie's value in a request's `Cookie` header, or null. */
export function readSessionCookie(cookieHeader: string | string[] | undefined): string | null {
  const header = Array.isArray(cookieHeader) ? cookieHeader.join('; ') : cookieHeader;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const raw = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (raw.length === 0) return null;
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw; // not percent-encoded by whoever set it: the value as sent
    }
  }
  return null;
}

/** The `Set-Cookie` value that names `jobId` as the session (a session cookie: no expiry). */
export function sessionCookieHeader(jobId: string): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(jobId)}; Path=/; HttpOnly; SameSite=Lax`;
}

// Hostile input (an image's tar names, a config.json, a registry's reply) can be megabytes long;
// an error message quoting it whole becomes a megabyte log line. Every message that quotes such a
// value cuts it here, keeping the head and saying how much was left out.

/** Longest quoted value kept whole in a message, in UTF-16 code units. */
export const CUT_LIMIT = 256;

/**
 * `s` itself when short; else its first `limit` characters followed by "…(N more)". Never splits
 * a surrogate pair.
 */
export function cut(s: string, limit = CUT_LIMIT): string {
  if (s.length <= limit) return s;
  let end = limit;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // a high surrogate whose pair would be left behind
  return `${s.slice(0, end)}…(${s.length - end} more)`;
}

/** JSON.stringify of a string, cut first: `"abc…(N more)"`. For any other value, a cut String(). */
export function quote(v: unknown, limit = CUT_LIMIT): string {
  if (typeof v === 'string') return JSON.stringify(cut(v, limit));
  let s: string;
  try {
    s = typeof v === 'object' && v !== null ? (Array.isArray(v) ? 'array' : 'object') : String(v);
  } catch {
    s = typeof v;
  }
  return cut(s, limit);
}

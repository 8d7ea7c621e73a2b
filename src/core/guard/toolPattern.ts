// Tool-name patterns as the policy writes them ("fs.read", "fs.*", "*.process", "*"), shared by scope.tools,
// approval entries and rate limits so that one pattern means the same thing everywhere.
//
//   matchesTool(pattern, tool): boolean   `*` matches any run of characters (dots included); nothing else is special
//   specificity(pattern): number          higher = more specific; sort with (a, b) => specificity(b) - specificity(a)
//
// Matching is case-sensitive: tool names are identifiers the runtime defines, not file names.

const EXACT = 1_000_000;

export function isToolPattern(pattern: string): boolean {
  return pattern.includes('*');
}

/** Wildcard match without regular expressions: linear in practice, never catastrophic on a hostile tool name. */
export function matchesTool(pattern: string, tool: string): boolean {
  if (!isToolPattern(pattern)) return pattern === tool;
  let p = 0;
  let t = 0;
  let star = -1; // position in pattern just after the last `*` seen
  let resume = 0; // position in tool where that `*` currently stops
  while (t < tool.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = ++p;
      resume = t;
    } else if (p < pattern.length && pattern[p] === tool[t]) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * Exact names beat every pattern; among patterns a longer literal prefix wins (`fs.*` over `f*` over `*`), then
 * more literal characters overall (`*.process` over `*`), then fewer wildcards. Ties keep declaration order when
 * the caller uses a stable sort.
 */
export function specificity(pattern: string): number {
  if (!isToolPattern(pattern)) return EXACT + Math.min(pattern.length, 999);
  const prefix = pattern.indexOf('*');
  const literals = pattern.replace(/\*/g, '').length;
  const wildcards = pattern.length - literals;
  return Math.min(prefix, 999) * 1000 + Math.min(literals, 99) * 10 + Math.max(0, 9 - wildcards);
}

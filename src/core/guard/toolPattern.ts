// Tool-name patterns as the policy writes them ("fs.read", "fs.*", "*.process", "*"), shared by scope.tools,
// approval entries and rate limits so that one pattern means the same thing everywhere.
//
//   matchesTool(pattern, tool): boolean   `*` matches any run of characters (dots included); nothing else is special
//   specificity(pattern): number          higher = more specific; sort with (a, b) => specificity(b) - specificity(a)
//
// Matching is case-sensitive: tool names are identifiers the runtime defines, not file names.

const EXACT = 1_000_000;

const compiled = new Map<string, RegExp>();

export function isToolPattern(pattern: string): boolean {
  return pattern.includes('*');
}

export function matchesTool(pattern: string, tool: string): boolean {
  if (!isToolPattern(pattern)) return pattern === tool;
  let re = compiled.get(pattern);
  if (!re) {
    const body = pattern.split('*').map(escapeRegExp).join('.*');
    re = new RegExp(`^${body}$`, 's');
    compiled.set(pattern, re);
  }
  return re.test(tool);
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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

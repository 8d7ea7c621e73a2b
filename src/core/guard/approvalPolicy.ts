// Step 5 of the pipeline: the approval level of a call. A matching rule (first in order) beats a tool entry,
// a more specific tool entry beats a less specific one, and `*` comes last (DESIGN §4.2).
import type { ApprovalLevel } from '../../protocol/auditEvent';
import type { ApprovalRule, Condition, ResolvedPolicy } from '../policy/policySchema';
import { matchesTool, specificity } from './toolPattern';

export interface LevelDecision {
  readonly level: ApprovalLevel;
  /** The policy entry that decided: "approval.rules[0]", "approval.fs.write", "approval.*" or "default". */
  readonly rule: string;
}

export class ApprovalPolicy {
  private readonly entries: Array<[string, ApprovalLevel]>;
  private readonly regexCache = new Map<string, RegExp>();

  constructor(private readonly approval: ResolvedPolicy['approval']) {
    // Most specific first, so the first match wins.
    this.entries = Object.entries(approval.levels).sort(([a], [b]) => specificity(b) - specificity(a));
  }

  levelOf(tool: string, args: unknown): LevelDecision {
    const rules = this.approval.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (matchesTool(rule.tool, tool) && this.ruleHolds(rule, args)) return { level: rule.level, rule: `approval.rules[${i}]` };
    }
    for (const [pattern, level] of this.entries) {
      if (matchesTool(pattern, tool)) return { level, rule: `approval.${pattern}` };
    }
    return { level: 'auto', rule: 'default' };
  }

  private ruleHolds(rule: ApprovalRule, args: unknown): boolean {
    return Object.entries(rule.when ?? {}).every(([field, cond]) => this.conditionHolds(cond, fieldValue(args, field)));
  }

  private conditionHolds(c: Condition, value: unknown): boolean {
    if (c.gt !== undefined && !(typeof value === 'number' && value > c.gt)) return false;
    if (c.gte !== undefined && !(typeof value === 'number' && value >= c.gte)) return false;
    if (c.lt !== undefined && !(typeof value === 'number' && value < c.lt)) return false;
    if (c.lte !== undefined && !(typeof value === 'number' && value <= c.lte)) return false;
    if (c.eq !== undefined && value !== c.eq) return false;
    if (c.ne !== undefined && value === c.ne) return false;
    if (c.in !== undefined && !c.in.some((v) => v === value)) return false;
    if (c.matches !== undefined) {
      if (value === undefined || value === null || typeof value === 'object') return false;
      if (!this.regex(c.matches).test(String(value))) return false;
    }
    return true;
  }

  private regex(source: string): RegExp {
    let re = this.regexCache.get(source);
    if (!re) this.regexCache.set(source, (re = new RegExp(source)));
    return re;
  }
}

/** Reads `a.b.c` from plain data; anything that is not an own data property reads as undefined. */
function fieldValue(args: unknown, path: string): unknown {
  let cur: unknown = args;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

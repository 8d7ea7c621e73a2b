// Redaction of secrets and personal data before anything is stored or shown: provider API keys, bearer tokens,
// private-key blocks, passwords in URLs and assignments, e-mail addresses, phone numbers, card numbers (Luhn),
// SSNs, IBANs, and the extra patterns a policy declares (`redact.patterns`). Masks keep a little shape
// (`sk-…9f2c`, `j…@example.com`, `…1111`) so a reader can still tell what was there and match it to a source.
import { AuditError } from './auditError';

export interface RedactionFinding {
  /** Which rule matched: `openai`, `email`, `card`, `policy[0]` … */
  readonly rule: string;
  readonly index: number;
  readonly length: number;
}

export interface RedactorOptions {
  /** Strings longer than this are cut (after redaction) and marked with the number of characters dropped. */
  readonly maxStringLength?: number;
  /** Arrays and objects deeper than this are replaced by a marker. */
  readonly maxDepth?: number;
  /** Arrays and objects with more entries than this keep the first ones and a marker. */
  readonly maxEntries?: number;
}

const ELLIPSIS = '…';

interface Rule {
  readonly name: string;
  readonly source: string;
  /** Returns the replacement, or undefined when the match is not really a secret (the scan then moves on). */
  readonly mask: (m: string, groups: Record<string, string | undefined>, self: Redactor) => string | undefined;
}

/** `prefix…last4`: the format marker stays, the secret goes, the last characters identify which key it was. */
function keepPrefix(prefix: string): (m: string) => string {
  return (m) => `${m.slice(0, prefix.length)}${ELLIPSIS}${m.length - prefix.length >= 16 ? m.slice(-4) : ''}`;
}

/** Basic credentials are base64 of user:password, whose last characters would give the password away. */
function schemeMask(scheme: string, value: string): string {
  return /^basic$/i.test(scheme) ? ELLIPSIS : tokenMask(value);
}

function tokenMask(value: string): string {
  return value.length >= 20 ? `${ELLIPSIS}${value.slice(-4)}` : ELLIPSIS;
}

const PLACEHOLDER = /^(?:\*+|…+|x+|X+|\.{3}|<[^>]*>|\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|\{\{[^}]*\}\}|%s|null|undefined|none|None|nil|true|false|TRUE|FALSE|env:[A-Za-z_][A-Za-z0-9_]*|process\.env\.[A-Za-z0-9_.]+|os\.environ.*|\[redacted\]|changeme|\?+)$/;

/** Replaces lone UTF-16 surrogates (which JSON and RFC 8785 cannot carry) with U+FFFD. */
export function wellFormed(s: string): string {
  const native = (s as { toWellFormed?: () => string }).toWellFormed;
  return native ? native.call(s) : s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** Under a password-like key only what is clearly not the secret itself stays: masks and references to one. */
const REFERENCE = /^(?:\*+|…+|<[^>]*>|\$\{[^}]*\}|\{\{[^}]*\}\}|env:[A-Za-z_][A-Za-z0-9_]*|process\.env\.[A-Za-z0-9_.]+)$/;

function shannonEntropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** A value assigned to a *_KEY / *_TOKEN name is a secret only when it looks like one (long, random, token charset). */
function looksLikeToken(v: string): boolean {
  return v.length >= 16 && /^[A-Za-z0-9_\-+/=.~]+$/.test(v) && /[0-9]/.test(v) && /[A-Za-z]/.test(v) && shannonEntropy(v) >= 3.2;
}

/** The issuer prefixes and lengths of the card networks in use (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro). */
function cardNetworkFits(d: string): boolean {
  const n = d.length;
  const p2 = Number(d.slice(0, 2));
  const p4 = Number(d.slice(0, 4));
  if (d[0] === '4') return n === 13 || n === 16 || n === 19;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16;
  if (p2 === 34 || p2 === 37) return n === 15;
  if (p2 === 36 || p2 === 38 || (p4 >= 3000 && p4 <= 3059)) return n === 14 || n === 16;
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19;
  if (p4 === 6011 || p2 === 65 || (p4 >= 6440 && p4 <= 6499) || p2 === 62) return n >= 16 && n <= 19;
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return n >= 12 && n <= 19;
  return false;
}

function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function ibanValid(raw: string): boolean {
  const s = raw.replace(/ /g, '');
  if (s.length < 15 || s.length > 34) return false;
  const moved = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of moved) {
    const code = ch.charCodeAt(0);
    const val = code >= 65 ? String(code - 55) : ch;
    for (const d of val) rem = (rem * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

const FILE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'js', 'mjs', 'cjs', 'ts', 'tsx', 'jsx', 'css', 'scss', 'json', 'map', 'txt', 'html', 'wasm', 'lock', 'log']);

// The words that make an assignment's name secret. Password-like names hide any real value; key/token-like
// names hide values that look random (so `PRIMARY_KEY=id` and `sort_key: name` survive).
const PASSWORD_WORDS = '[Pp]ass(?:word|wd|phrase)|PASS(?:WORD|WD|PHRASE)|[Ss]ecret|SECRET|[Pp]wd|PWD|[Cc]redentials?|CREDENTIALS?|[Cc]onnection_?[Ss]tring|CONNECTION_STRING';
const TOKEN_WORDS = '[Kk]ey|KEY|[Tt]oken|TOKEN|[Aa]uth|AUTH|[Ss]ig(?:nature)?|SIG(?:NATURE)?';

const PASSWORD_WORD_RE = new RegExp(PASSWORD_WORDS);

const RULES: readonly Rule[] = [
  {
    name: 'privateKey',
    source: String.raw`-----BEGIN (?<pemLabel>[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----[\s\S]*?-----END \k<pemLabel>-----`,
    mask: (_m, g) => `-----BEGIN ${g.pemLabel}-----${ELLIPSIS}-----END ${g.pemLabel}-----`,
  },
  {
    // A block cut short (a truncated log line) is hidden to its end all the same.
    name: 'privateKeyOpen',
    source: String.raw`-----BEGIN (?<pemOpenLabel>[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----[A-Za-z0-9+/=\s:,.-]*`,
    mask: (_m, g) => `-----BEGIN ${g.pemOpenLabel}-----${ELLIPSIS}`,
  },
  {
    name: 'urlPassword',
    source: String.raw`(?<urlHead>\b[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s:@/?#]{0,128}:)(?<urlPass>[^\s/?#]{1,256})(?=@[^\s@/?#]+)`,
    mask: (_m, g) => `${g.urlHead}***`,
  },
  { name: 'anthropic', source: String.raw`\bsk-ant-[A-Za-z0-9]{2,10}-[A-Za-z0-9_-]{20,}`, mask: keepPrefix('sk-ant-') },
  {
    name: 'openai',
    source: String.raw`\bsk-(?<oaiKind>(?:proj|svcacct|admin|None)-)?[A-Za-z0-9_-]{20,}`,
    mask: (m, g) => (/[0-9]/.test(m) ? keepPrefix(`sk-${g.oaiKind ?? ''}`)(m) : undefined),
  },
  { name: 'stripe', source: String.raw`\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}`, mask: (m) => keepPrefix(m.slice(0, 8))(m) },
  {
    name: 'github',
    source: String.raw`\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{40,255})\b`,
    mask: (m) => keepPrefix(m.startsWith('github_pat_') ? 'github_pat_' : m.slice(0, 4))(m),
  },
  { name: 'gitlab', source: String.raw`\bglpat-[A-Za-z0-9_-]{20,}`, mask: keepPrefix('glpat-') },
  { name: 'slack', source: String.raw`\bxox[abposre]-[A-Za-z0-9-]{10,}`, mask: (m) => keepPrefix(m.slice(0, 5))(m) },
  {
    name: 'slackWebhook',
    source: String.raw`https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9_/-]{20,}`,
    mask: (m) => `https://hooks.slack.com/${ELLIPSIS}${m.slice(-4)}`,
  },
  { name: 'aws', source: String.raw`\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|APKA|AIPA)[A-Z0-9]{16}\b`, mask: (m) => `${m.slice(0, 4)}${ELLIPSIS}${m.slice(-4)}` },
  { name: 'google', source: String.raw`\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])`, mask: keepPrefix('AIza') },
  { name: 'googleOauth', source: String.raw`\bya29\.[0-9A-Za-z_-]{20,}`, mask: keepPrefix('ya29.') },
  { name: 'npm', source: String.raw`\bnpm_[A-Za-z0-9]{36}\b`, mask: keepPrefix('npm_') },
  { name: 'huggingface', source: String.raw`\bhf_[A-Za-z0-9]{30,}\b`, mask: keepPrefix('hf_') },
  { name: 'sendgrid', source: String.raw`\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}`, mask: keepPrefix('SG.') },
  { name: 'jwt', source: String.raw`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`, mask: keepPrefix('eyJ') },
  {
    name: 'bearer',
    source: String.raw`\b(?<bearerKw>[Bb]earer|BEARER|[Bb]asic|BASIC|[Tt]oken|TOKEN)[ \t]+(?<bearerVal>[A-Za-z0-9._~+/=-]{12,})`,
    mask: (_m, g, self) => {
      const v = g.bearerVal!;
      // Prose ("the bearer instrument") has no digits or token punctuation.
      if (!/[0-9._~+/=-]/.test(v)) return undefined;
      return `${g.bearerKw} ${self.credential(g.bearerKw!, v)}`;
    },
  },
  {
    name: 'assignment',
    source: String.raw`(?<asgKey>["']?\b[A-Za-z0-9_.-]*?(?<asgWord>${PASSWORD_WORDS}|${TOKEN_WORDS})["']?)(?<asgSep>[ \t]*[:=][ \t]*)(?<asgVal>"[^"\r\n]{1,512}"|'[^'\r\n]{1,512}'|[^\s"',;&)}\]<>]{1,512})`,
    mask: (_m, g, self) => {
      const raw = g.asgVal!;
      const quote = raw[0] === '"' || raw[0] === "'" ? raw[0] : '';
      const value = quote ? raw.slice(1, -1) : raw;
      const key = g.asgKey!.replace(/["']/g, '');
      if (value.length === 0 || PLACEHOLDER.test(value)) return undefined;
      if (key === 'PWD' || key === 'OLDPWD') return undefined;
      const passwordLike = PASSWORD_WORD_RE.test(key);
      const inner = self.redactBuiltin(value);
      let masked: string;
      if (inner !== value) masked = inner;
      else if (passwordLike) masked = '***';
      else if (looksLikeToken(value)) masked = tokenMask(value);
      else return undefined;
      return `${g.asgKey}${g.asgSep}${quote}${masked}${quote}`;
    },
  },
  {
    name: 'email',
    source: String.raw`(?<![A-Za-z0-9._%+-])(?<emLocal>[A-Za-z0-9._%+-]{1,64})@(?<emDomain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?<emTld>[A-Za-z]{2,24}))(?![A-Za-z0-9-])`,
    mask: (_m, g) => {
      if (/^\d+x\./.test(g.emDomain!) || FILE_EXTENSIONS.has(g.emTld!.toLowerCase())) return undefined;
      return `${g.emLocal![0]}${ELLIPSIS}@${g.emDomain}`;
    },
  },
  {
    name: 'iban',
    source: String.raw`\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b`,
    mask: (m) => (ibanValid(m) ? `${m.slice(0, 4)}${ELLIPSIS}${m.replace(/ /g, '').slice(-4)}` : undefined),
  },
  {
    name: 'card',
    // Continuous digits, or the groupings cards are printed in (4-4-4-4[-1..3], 4-6-4/5): a timestamp such as
    // 20261121-105450 is neither, whatever its checksum says.
    source: String.raw`(?<![0-9.])(?:[2-6][0-9]{12,18}|[2-6][0-9]{3}(?:[ -][0-9]{4}){3}(?:[ -]?[0-9]{1,3})?|3[0-9]{3}[ -][0-9]{6}[ -][0-9]{4,5})(?![0-9]|\.[0-9])`,
    mask: (m) => {
      const digits = m.replace(/[ -]/g, '');
      if (digits.length < 13 || digits.length > 19 || !cardNetworkFits(digits) || !luhn(digits)) return undefined;
      return `${ELLIPSIS}${digits.slice(-4)}`;
    },
  },
  {
    name: 'ssn',
    source: String.raw`(?<![0-9-])(?!000|666|9[0-9]{2})[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}(?![0-9-])`,
    mask: (m) => `***-**-${m.slice(-4)}`,
  },
  {
    name: 'phone',
    source: String.raw`(?<![\w+./-])(?:(?<phCc>\+[1-9][0-9]{0,2})[ .-]?(?:\(?[0-9]{1,4}\)?)(?:[ .-]?[0-9]{2,5}){1,4}|(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[.-])[2-9][0-9]{2}[.-][0-9]{4})(?![\w/-]|\.[0-9])`,
    mask: (m, g) => {
      const digits = m.replace(/[^0-9]/g, '');
      if (digits.length < 8 || digits.length > 15) return undefined;
      return `${g.phCc ? '+' : ''}${ELLIPSIS}${digits.slice(-2)}`;
    },
  },
];

// Every rule's match contains one of these characters, or starts with an AWS or Google key prefix whose random
// part may be letters only; plain prose has none, and skips the full scan (the hot path of every event).
const MAYBE_SECRET = /[0-9@:=_\-~+/.]|A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|NPA|NVA|PKA|IPA|Iza)/;

// Group names never repeat across rules, so one alternation can tell which rule matched.
const COMBINED_SOURCE = RULES.map((r, i) => `(?<r${i}>${r.source})`).join('|');

export class Redactor {
  private readonly builtin = new RegExp(COMBINED_SOURCE, 'g');
  private readonly extra: readonly RegExp[];
  private readonly maxStringLength: number;
  private readonly maxDepth: number;
  private readonly maxEntries: number;

  /** `extraPatterns` are regular expressions (JavaScript syntax) from the policy's `redact.patterns`. */
  constructor(extraPatterns: readonly string[] = [], options: RedactorOptions = {}) {
    this.extra = extraPatterns.map((p, i) => {
      try {
        return new RegExp(p, 'g');
      } catch (e) {
        throw new AuditError('invalid-pattern', `redact.patterns[${i}] is not a valid regular expression (${(e as Error).message}). Fix it in .airlock/policy.json.`, { cause: e });
      }
    });
    this.maxStringLength = options.maxStringLength ?? 8192;
    this.maxDepth = options.maxDepth ?? 24;
    this.maxEntries = options.maxEntries ?? 1000;
  }

  /** The text with every secret and personal datum masked; the same string when there was nothing to hide. */
  redactText(text: string): string {
    let out = this.redactBuiltin(text);
    for (let i = 0; i < this.extra.length; i++) out = this.replaceAll(out, this.extra[i]!, (m) => (m.length >= 12 ? `${ELLIPSIS}${m.slice(-2)}` : ELLIPSIS));
    return out;
  }

  /** Where the secrets are, without changing anything (an output guard can refuse to send such text). */
  scan(text: string): RedactionFinding[] {
    const found: RedactionFinding[] = [];
    this.visitBuiltin(text, (rule, index, length) => {
      found.push({ rule, index, length });
      return '';
    });
    this.extra.forEach((re, i) => {
      re.lastIndex = 0;
      for (let m = re.exec(text); m; m = re.exec(text)) {
        if (m[0].length === 0) {
          re.lastIndex++;
          continue;
        }
        found.push({ rule: `policy[${i}]`, index: m.index, length: m[0].length });
      }
    });
    return found.sort((a, b) => a.index - b.index);
  }

  /**
   * A JSON-safe deep copy of `value` with secrets masked: strings are redacted (and cut when very long), values
   * under names such as `password` or `apiKey` are hidden, and what JSON cannot hold (functions, cycles,
   * NaN, lone surrogates) is replaced by something it can.
   */
  redact(value: unknown): unknown {
    return this.walk(value, 0, 'none', { stack: [], canonical: true });
  }

  /**
   * redact, and whether JSON.stringify writes the copy as RFC 8785 canonical JSON: it is plain data (finite numbers,
   * well-formed strings) with members in UTF-16 code unit order, except where JavaScript itself enumerates them
   * otherwise (integer-like keys first, in numeric order), which is rare (`{"10": …, "9": …}`).
   */
  redactOrdered(value: unknown): { value: unknown; canonical: boolean } {
    const walk: Walk = { stack: [], canonical: true };
    return { value: this.walk(value, 0, 'none', walk), canonical: walk.canonical };
  }

  /** The credential after `Bearer`/`Basic`/…: a known key format keeps its shape, anything else is hidden. */
  credential(scheme: string, value: string): string {
    const inner = this.redactBuiltin(value);
    return inner !== value && !/^basic$/i.test(scheme) ? inner : schemeMask(scheme, value);
  }

  /** The built-in rules only (policy patterns are applied by redactText). */
  redactBuiltin(text: string): string {
    if (!MAYBE_SECRET.test(text)) return text;
    return this.visitBuiltin(text, undefined);
  }

  private visitBuiltin(text: string, onFind: ((rule: string, index: number, length: number) => string) | undefined): string {
    const re = this.builtin;
    re.lastIndex = 0;
    let out = '';
    let last = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const groups = m.groups!;
      const ruleIndex = RULES.findIndex((_r, i) => groups[`r${i}`] !== undefined);
      const rule = RULES[ruleIndex]!;
      // A mask may redact the value inside its match with this same expression, so lastIndex is set again below.
      const replacement = rule.mask(m[0], groups, this);
      if (replacement === undefined) {
        // Not a secret after all: look again one character later, where another rule may match.
        re.lastIndex = m.index + 1;
        continue;
      }
      re.lastIndex = m.index + m[0].length;
      out += text.slice(last, m.index) + (onFind ? onFind(rule.name, m.index, m[0].length) : replacement);
      last = m.index + m[0].length;
    }
    return last === 0 ? text : out + text.slice(last);
  }

  private replaceAll(text: string, re: RegExp, mask: (m: string) => string): string {
    re.lastIndex = 0;
    let out = '';
    let last = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      out += text.slice(last, m.index) + mask(m[0]);
      last = m.index + m[0].length;
    }
    return last === 0 ? text : out + text.slice(last);
  }

  private text(s: string, hint: KeyHint): string {
    // Redact before cutting, so a secret that straddles the cut is still recognised whole.
    const base = wellFormed(s.length > 1_000_000 ? s.slice(0, 1_000_000) : s);
    let out: string;
    if (hint === 'password') {
      // `Authorization: Bearer …` keeps its scheme; any other value under a password-like name is hidden whole.
      const scheme = /^(Bearer|Basic|Token|Digest|Bot)\s+(\S.*)$/i.exec(base);
      out = base.length === 0 || REFERENCE.test(base) ? base : scheme ? `${scheme[1]} ${this.credential(scheme[1]!, scheme[2]!)}` : '***';
    }
    else {
      out = this.redactText(base);
      if (hint === 'token' && out === base && looksLikeToken(base)) out = tokenMask(base);
    }
    if (out.length > this.maxStringLength) out = `${out.slice(0, this.maxStringLength)}${ELLIPSIS}[+${(s.length - this.maxStringLength).toLocaleString('en-US')} chars]`;
    return out;
  }

  private walk(v: unknown, depth: number, hint: KeyHint, walk: Walk): unknown {
    switch (typeof v) {
      case 'string':
        return this.text(v, hint);
      case 'number':
        if (!Number.isFinite(v)) return null;
        // JSON has no -0: what is stored must be what the caller gets back.
        return hint === 'password' ? '***' : v === 0 ? 0 : v;
      case 'boolean':
        return v;
      case 'bigint':
        return hint === 'password' ? '***' : v.toString();
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
    }
    if (v === null) return null;
    const obj = v as object;
    const stack = walk.stack;
    if (stack.includes(obj)) return '[circular]';
    if (depth >= this.maxDepth) return '[nested too deep]';
    if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : obj.toISOString();
    if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return `[binary, ${obj.byteLength} bytes]`;
    if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
      return this.walk((obj as { toJSON: () => unknown }).toJSON(), depth, hint, walk);
    }
    stack.push(obj);
    try {
      if (Array.isArray(obj) || obj instanceof Set) {
        const items = Array.isArray(obj) ? obj : [...obj];
        const out: unknown[] = [];
        const n = Math.min(items.length, this.maxEntries);
        for (let i = 0; i < n; i++) {
          const x = this.walk(items[i], depth + 1, hint === 'password' ? 'password' : 'none', walk);
          out.push(x === undefined ? null : x);
        }
        if (items.length > n) out.push(`[+${items.length - n} more]`);
        return out;
      }
      const entries: Array<[string, unknown]> = obj instanceof Map ? [...obj.entries()].map(([k, x]) => [String(k), x]) : Object.entries(obj);
      const n = Math.min(entries.length, this.maxEntries);
      const out: Record<string, unknown> = {};
      let last: string | undefined;
      let sorted = true;
      let integerKeys = false;
      for (let i = 0; i < n; i++) {
        const [k, x] = entries[i]!;
        const key = k.length >= 8 ? this.redactText(wellFormed(k)) : wellFormed(k);
        const value = this.walk(x, depth + 1, keyHint(k), walk);
        if (value === undefined) continue;
        if (last !== undefined && !(last < key)) sorted = false;
        if (!integerKeys && key.charCodeAt(0) <= 57 && INTEGER_KEY.test(key)) integerKeys = true;
        setMember(out, key, value);
        last = key;
      }
      if (entries.length > n) {
        if (last !== undefined && !(last < ELLIPSIS)) sorted = false;
        out[ELLIPSIS] = `[+${entries.length - n} more entries]`;
      }
      // Members in UTF-16 code unit order, as canonical JSON (RFC 8785) writes them (the audit log hashes this copy
      // with JSON.stringify when redactOrdered says it may).
      const copy = sorted ? out : inCodeUnitOrder(out);
      if (integerKeys && walk.canonical) walk.canonical = inOrder(Object.keys(copy));
      return copy;
    } finally {
      stack.pop();
    }
  }
}

type KeyHint = 'none' | 'password' | 'token';

interface Walk {
  /** The objects being copied, outermost first (a cycle is cut where it closes). */
  readonly stack: object[];
  /** Whether every object copied so far enumerates its members in UTF-16 code unit order. */
  canonical: boolean;
}

/** A key JavaScript enumerates before the others, in numeric order (an array index, 0 … 2³² − 2). */
const INTEGER_KEY = /^(?:0|[1-9][0-9]{0,9})$/;

function inOrder(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (!(keys[i - 1]! < keys[i]!)) return false;
  return true;
}

/**
 * Sets a member of a copy being built. A key named "__proto__" is data here, not the object's prototype (defined,
 * not assigned; the others are assigned, several times faster).
 */
function setMember(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

/** `o`'s members again, in UTF-16 code unit order (as far as JavaScript keeps it: integer-like keys come first). */
function inCodeUnitOrder(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(o).sort()) setMember(out, key, o[key]);
  return out;
}

const PASSWORD_KEY_WORDS = new Set(['password', 'passwd', 'passphrase', 'pass', 'pwd', 'secret', 'credential', 'credentials', 'cookie', 'authorization', 'privatekey', 'connectionstring']);
const TOKEN_KEY_WORDS = new Set(['token', 'key', 'apikey', 'auth', 'sig', 'signature']);

/** What an object key says about its value: `apiKey`, `client_secret`, `X-Api-Key`, `password` … */
export function keyHint(key: string): KeyHint {
  let hint = hintCache.get(key);
  if (hint === undefined) {
    hint = computeKeyHint(key);
    // Keys repeat across events (`path`, `bytes`, `url`); a bounded cache keeps the walk cheap.
    if (hintCache.size > 4096) hintCache.clear();
    hintCache.set(key, hint);
  }
  return hint;
}

const hintCache = new Map<string, KeyHint>();

function computeKeyHint(key: string): KeyHint {
  if (key === 'PWD' || key === 'OLDPWD') return 'none';
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  const last = words[words.length - 1];
  if (last === undefined) return 'none';
  const lastTwo = words.slice(-2).join('');
  if (PASSWORD_KEY_WORDS.has(last) || PASSWORD_KEY_WORDS.has(lastTwo)) return 'password';
  if (TOKEN_KEY_WORDS.has(last) || TOKEN_KEY_WORDS.has(lastTwo)) return 'token';
  return 'none';
}

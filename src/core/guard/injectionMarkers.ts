// Step 7 (output guard): content going back to the agent is checked for common prompt-injection markers.
// A hit does not block the content (the agent may legitimately read such text); it is flagged in the audit log.
const markers: Array<[RegExp, string]> = [
  [/\b(ignore|disregard|forget)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier)\s+(instructions|prompts?|rules|messages)/i, 'ignore previous instructions'],
  [/\byou\s+are\s+now\s+(in\s+)?(developer|dan|jailbreak|god)\s*mode\b/i, 'mode switch'],
  [/<\|(im_start|im_end|system|endoftext)\|>/i, 'chat-template token'],
  [/\[\/?(INST|SYS)\]|<<SYS>>/, 'instruction-template token'],
  [/\b(new|updated|override)\s+system\s+(prompt|instructions?)\s*:/i, 'system prompt override'],
  [/\bdo\s+not\s+(tell|inform|alert)\s+the\s+(user|human|developer)\b/i, 'concealment request'],
];

export function findInjectionMarker(text: string): string | undefined {
  const sample = text.length > 1_000_000 ? text.slice(0, 1_000_000) : text;
  for (const [re, name] of markers) if (re.test(sample)) return name;
  return undefined;
}

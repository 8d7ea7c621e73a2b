// The output guard's view of redaction: show arguments redacted, and tell secrets (which must never leave the
// sandbox) from personal data (which may, e.g. a customer's e-mail in a CRM note, but is still redacted in logs).
import type { Redactor } from '../audit/redaction';
import type { SecretScanner } from './guardPipeline';

const PERSONAL_DATA_RULES = new Set(['email', 'phone', 'card', 'ssn', 'iban']);

export function secretScannerFrom(redactor: Redactor): SecretScanner {
  return {
    redact: (value) => redactor.redact(value),
    findSecrets: (text) => [...new Set(redactor.scan(text).map((f) => f.rule).filter((rule) => !PERSONAL_DATA_RULES.has(rule)))],
  };
}

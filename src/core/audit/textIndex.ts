// The text search pre-filter: for each block of TEXT_BLOCK_EVENTS consecutive events, a set of bits, one per
// (hashed) trigram found in the text that search looks at — the tool name, the reason and the arguments as JSON,
// lower-cased exactly as the search compares them. A term, lower-cased, can occur in a block only if all of its
// trigrams are set there, so a search reads only the blocks that pass (a term that occurs nowhere reads almost
// nothing) and confirms every candidate event as before. Terms under three characters are not filtered.
//
// A bit may be set by another trigram (a hash collision): that only lets a block through for nothing. No bit is
// ever missing for a trigram that is there, so nothing that matches is skipped. `verify --deep` recomputes the
// bits from the stored events and reports a block whose bits were cleared.
import type { AuditEvent } from '../../protocol/auditEvent';

/** Events per block. */
export const TEXT_BLOCK_EVENTS = 512;
/** Bits per block (4 KB). */
export const TEXT_BLOCK_BITS = 32768;
const SHIFT = 32 - Math.log2(TEXT_BLOCK_BITS);

export function blockOf(seq: number): number {
  return Math.floor((seq - 1) / TEXT_BLOCK_EVENTS);
}

/** The first and last seq of a block. */
export function blockRange(block: number): [number, number] {
  return [block * TEXT_BLOCK_EVENTS + 1, (block + 1) * TEXT_BLOCK_EVENTS];
}

function trigramBit(a: number, b: number, c: number): number {
  return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ Math.imul(c, 0xc2b2ae3d)) >>> SHIFT;
}

function addText(bits: Uint8Array, text: string): void {
  for (let i = 0; i + 2 < text.length; i++) {
    const bit = trigramBit(text.charCodeAt(i), text.charCodeAt(i + 1), text.charCodeAt(i + 2));
    bits[bit >> 3]! |= 1 << (bit & 7);
  }
}

/** Sets the bits of what search looks at in one event (see textMatches in auditDatabase.ts). */
export function addEventText(bits: Uint8Array, e: Partial<AuditEvent>): void {
  if (typeof e.tool === 'string') addText(bits, e.tool.toLowerCase());
  if (typeof e.reason === 'string') addText(bits, e.reason.toLowerCase());
  if (e.args !== undefined) addText(bits, (JSON.stringify(e.args) ?? '').toLowerCase());
}

/**
 * The bit sets a block must contain for a search term to possibly occur in it: one per form the term is looked
 * for in (as typed, and JSON-escaped inside the arguments); a block passes when it has every bit of one of them.
 * Undefined when the term is too short to filter by.
 */
export function termBits(text: string): number[][] | undefined {
  const needle = text.toLowerCase();
  const escaped = JSON.stringify(needle).slice(1, -1);
  const forms = needle === escaped ? [needle] : [needle, escaped];
  if (forms.some((f) => f.length < 3)) return undefined;
  return forms.map((f) => {
    const set = new Set<number>();
    for (let i = 0; i + 2 < f.length; i++) set.add(trigramBit(f.charCodeAt(i), f.charCodeAt(i + 1), f.charCodeAt(i + 2)));
    return [...set];
  });
}

export function blockMayContain(bits: Uint8Array, forms: readonly (readonly number[])[]): boolean {
  return forms.some((form) => form.every((bit) => (bits[bit >> 3]! & (1 << (bit & 7))) !== 0));
}

/** Sets in `into` every bit `from` has (the bits of more events of the same block). */
export function addBits(into: Uint8Array, from: Uint8Array): void {
  for (let i = 0; i < into.length; i++) into[i]! |= from[i]!;
}

/** Whether `stored` has every bit `expected` has (a block whose bits were cleared hides events from search). */
export function covers(stored: Uint8Array, expected: Uint8Array): boolean {
  if (stored.length !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if ((stored[i]! & expected[i]!) !== expected[i]) return false;
  return true;
}
